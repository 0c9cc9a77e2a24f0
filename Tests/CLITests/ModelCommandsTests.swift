import Foundation
import H5Store
import ModelIO
import TestSupport
import XCTest

/// The model subcommands run end to end on the real SmolLM2 checkpoint.
final class ModelCommandsTests: XCTestCase {
    var executable: String { CLITests.executable }

    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true,
              AssetRegistry.asset(named: "wikitext2", kind: .text)?.isPresent == true else {
            throw XCTSkip("SmolLM2 or WikiText-2 not cached; run Scripts/fetch-assets.sh")
        }
    }

    func testTokenizeWritesLittleEndianIdsAndTheirHash() throws {
        let folder = try makeTemporaryFolder("tokenize")
        defer { try? FileManager.default.removeItem(at: folder) }
        let ids = folder.appendingPathComponent("ids.bin").path
        let result = try runProgram(executable, ["tokenize", "--model", "smollm2-135m", "--input", "wikitext2", "--output", ids, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try lastJSONObject(result.stdout)
        // 304,830 ids: SmolLM2's own tokenizer on the raw test file (ASSETS.md).
        XCTAssertEqual(json["tokens"] as? Int, 304_830)
        let data = try Data(contentsOf: URL(fileURLWithPath: ids))
        XCTAssertEqual(data.count, 4 * 304_830)
        XCTAssertEqual(json["ids_sha256"] as? String, SHA256.hex(of: data))
    }

    func testPerplexityRunStoresProvenanceInHDF5() throws {
        let folder = try makeTemporaryFolder("ppl")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("run.h5").path
        let result = try runProgram(executable, ["eval", "ppl", "--model", "smollm2-135m", "--data", "wikitext2", "--seqlen", "64",
                                                 "--windows", "2", "--threads", "2", "--output", output, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try lastJSONObject(result.stdout)
        let ppl = try XCTUnwrap(json["ppl"] as? Double)
        XCTAssertGreaterThan(ppl, 1)
        XCTAssertLessThan(ppl, 1000)
        XCTAssertEqual(json["windows"] as? Int, 2)
        XCTAssertEqual(json["predicted_tokens"] as? Int, 126)
        let reader = try H5Reader(path: output)
        // Foundation's JSON writer keeps about 16 significant digits, not always the 17 a Double may need.
        XCTAssertEqual(try XCTUnwrap(reader.attribute("ppl", of: "/perplexity/wikitext2").doubleValue), ppl, accuracy: 1e-13 * ppl)
        XCTAssertEqual(try reader.shape(of: "/perplexity/wikitext2/window_nll_sums"), [2])
        XCTAssertEqual(try reader.attribute("model_sha256", of: "/provenance"),
                       .string("b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"))
        XCTAssertEqual(try reader.attribute("data_sha256", of: "/provenance"),
                       .string("4f3e427e4aff23acff917a8a51aeae21bf12832256e26914c8fc250dcef4103c"))
        XCTAssertEqual(try reader.attribute("blas_threads", of: "/provenance"), .int(2))
    }

    func testGenerateAndBenchmarksReportJSON() throws {
        let generated = try runProgram(executable, ["generate", "--model", "smollm2-135m", "--prompt", "The capital of France is",
                                                    "--max-tokens", "4", "--json"])
        XCTAssertEqual(generated.status, 0, generated.stderr)
        XCTAssertEqual(try lastJSONObject(generated.stdout)["generated_tokens"] as? Int, 4)
        let prefill = try runProgram(executable, ["bench", "prefill", "--seqlen", "32", "--repeats", "1", "--warmup", "0", "--json"])
        XCTAssertEqual(prefill.status, 0, prefill.stderr)
        XCTAssertNotNil(try lastJSONObject(prefill.stdout)["fraction_of_ceiling"] as? Double)
        let decode = try runProgram(executable, ["bench", "decode", "--context", "16", "--repeats", "2", "--warmup", "0", "--json"])
        XCTAssertEqual(decode.status, 0, decode.stderr)
        XCTAssertNotNil(try lastJSONObject(decode.stdout)["ms_per_step_median"] as? Double)
    }

    func testBadModelAndDataGiveOneLineErrors() throws {
        let badModel = try runProgram(executable, ["eval", "ppl", "--model", "llama-9000", "--seqlen", "64", "--windows", "1"])
        XCTAssertNotEqual(badModel.status, 0)
        XCTAssertEqual(badModel.stderr.split(separator: "\n").count, 1, badModel.stderr)
        XCTAssertTrue(badModel.stderr.contains("no model named 'llama-9000'"), badModel.stderr)
        let tooMany = try runProgram(executable, ["eval", "ppl", "--seqlen", "2048", "--windows", "100000"])
        XCTAssertNotEqual(tooMany.status, 0)
        XCTAssertTrue(tooMany.stderr.contains("fewer than the 100000 asked for"), tooMany.stderr)
        let notGGUF = try makeTemporaryFolder("notgguf").appendingPathComponent("model.gguf")
        try Data("GGUF".utf8).write(to: notGGUF)
        let truncated = try runProgram(executable, ["generate", "--model", notGGUF.path, "--prompt", "x"])
        XCTAssertNotEqual(truncated.status, 0)
        XCTAssertTrue(truncated.stderr.contains(notGGUF.path), truncated.stderr)
    }
}
