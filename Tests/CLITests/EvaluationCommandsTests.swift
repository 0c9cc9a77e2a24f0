import Foundation
import H5Store
import ModelIO
import TestSupport
import XCTest

/// `eval zeroshot`, `eval run`, `bench latency` and `bench layer` end to end on SmolLM2.
final class EvaluationCommandsTests: XCTestCase {
    var executable: String { CLITests.executable }

    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true,
              AssetRegistry.asset(named: "piqa", kind: .task)?.isPresent == true else {
            throw XCTSkip("SmolLM2 or the task files not cached; run Scripts/fetch-assets.sh")
        }
    }

    func testZeroShotStoresEveryDocumentAndTheMetrics() throws {
        let folder = try makeTemporaryFolder("zeroshot")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("zs.h5").path
        let result = try runProgram(executable, ["eval", "zeroshot", "--tasks", "arc_easy,winogrande", "--limit", "8", "--threads", "2",
                                                 "--output", output, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try lastJSONObject(result.stdout)
        let tasks = try XCTUnwrap(json["tasks"] as? [String: [String: Any]])
        XCTAssertEqual(tasks["arc_easy"]?["documents"] as? Int, 8)
        XCTAssertEqual(tasks["arc_easy"]?["metric"] as? String, "acc_norm")
        XCTAssertEqual(tasks["winogrande"]?["metric"] as? String, "acc")
        XCTAssertNil(tasks["winogrande"]?["acc_norm"])
        XCTAssertNil(json["average_intraslice_7"], "no average unless all 7 tasks ran")

        let reader = try H5Reader(path: output)
        let offsets = try reader.read("/zeroshot/arc_easy/choice_offsets", as: Int64.self).values
        XCTAssertEqual(offsets.count, 9)
        XCTAssertEqual(try reader.shape(of: "/zeroshot/arc_easy/loglikelihood"), [Int(offsets.last!)])
        let lls = try reader.read("/zeroshot/arc_easy/loglikelihood", as: Double.self).values
        let predictions = try reader.read("/zeroshot/arc_easy/prediction", as: Int64.self).values
        // Each stored prediction is the argmax of that document's stored loglikelihoods.
        for d in 0..<8 {
            let choices = Array(lls[Int(offsets[d])..<Int(offsets[d + 1])])
            XCTAssertEqual(Int(predictions[d]), choices.firstIndex(of: choices.max()!))
            XCTAssertTrue(choices.allSatisfy { $0 < 0 })
        }
        XCTAssertEqual(try reader.attribute("acc_norm", of: "/zeroshot/arc_easy").doubleValue, tasks["arc_easy"]?["acc_norm"] as? Double)
        XCTAssertNil(try reader.attributes(of: "/provenance")["task_piqa_sha256"])
        XCTAssertEqual(try reader.attribute("task_arc_easy_sha256", of: "/provenance"),
                       .string(AssetRegistry.asset(named: "arc_easy", kind: .task)!.sha256))
    }

    func testEvalRunChainsEverythingIntoOneFile() throws {
        let folder = try makeTemporaryFolder("evalrun")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("run.h5").path
        let result = try runProgram(executable, [
            "eval", "run", "--ppl", "wikitext2", "--seqlen", "64", "--windows", "1", "--zeroshot", "piqa", "--limit", "3",
            "--latency", "--prefill", "1x32", "--decode-contexts", "16,8", "--decode-batches", "1", "--prefill-repeats", "2",
            "--decode-repeats", "2", "--warmup", "0", "--output", output, "--json",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try lastJSONObject(result.stdout)
        XCTAssertNotNil((json["perplexity"] as? [String: Any])?["wikitext2"])
        XCTAssertNotNil((json["zeroshot"] as? [String: Any])?["tasks"])
        let decode = try XCTUnwrap((json["latency"] as? [String: Any])?["decode"] as? [[String: Any]])
        XCTAssertEqual(decode.map { $0["context"] as? Int }, [16, 8])
        let reader = try H5Reader(path: output)
        XCTAssertEqual(try reader.shape(of: "/perplexity/wikitext2/window_nll_sums"), [1])
        XCTAssertEqual(try reader.shape(of: "/zeroshot/piqa/doc_id"), [3])
        XCTAssertEqual(try reader.shape(of: "/latency/decode_b1_c8/seconds"), [2])
        XCTAssertEqual(try reader.shape(of: "/latency/layer_seconds_median"), [30])
        XCTAssertEqual(try reader.attribute("model_sha256", of: "/provenance"),
                       .string("b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"))
    }

    func testLayerBenchmarkReportsItsShape() throws {
        let result = try runProgram(executable, ["bench", "layer", "--scale", "0.05", "--seqlen", "16", "--contexts", "32",
                                                 "--prefill-repeats", "1", "--decode-repeats", "2", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try lastJSONObject(result.stdout)
        XCTAssertEqual(json["heads"] as? Int, 2)
        XCTAssertEqual(json["hidden"] as? Int, 256)
        XCTAssertTrue(result.stdout.contains("scaled by 0.05"), result.stdout)
        let bad = try runProgram(executable, ["bench", "layer", "--heads", "5", "--kv-heads", "2"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("multiple of --kv-heads"), bad.stderr)
    }

    func testUnknownTaskIsAClearError() throws {
        let result = try runProgram(executable, ["eval", "zeroshot", "--tasks", "piqa,mmlu"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("mmlu") && result.stderr.contains("unknown task"), result.stderr)
    }
}
