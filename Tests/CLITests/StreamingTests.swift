import Foundation
import ModelIO
import TestSupport
@testable import Transformer
import XCTest

/// A model held resident and the same model streamed one layer at a time (chosen by
/// `--memory-budget`) give the same bits: perplexity from the logits, and pruned weights.
final class StreamingTests: XCTestCase {
    var executable: String { CLITests.executable }
    var folder: URL!

    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
        folder = try makeTemporaryFolder()
    }
    override func tearDownWithError() throws { if let folder { try? FileManager.default.removeItem(at: folder) } }

    /// Llama-2's config with widths 384/1024 and 24 layers in bf16, untied head and
    /// SmolLM2's vocabulary: about 320 MB resident, 170 MB streamed, so that a 300 MiB
    /// budget leaves streaming as the only way.
    static func writeModel(in folder: URL) throws -> String {
        var config = try XCTUnwrap(SyntheticShape.named("llama-2-7b")).config
        config.hiddenSize = 384
        config.intermediateSize = 1024
        config.numAttentionHeads = 6
        config.numKeyValueHeads = 6
        let real = try XCTUnwrap(SyntheticShape.named("llama-2-7b"))
        let path = folder.appendingPathComponent("model").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        _ = try SyntheticCheckpoint.write(SyntheticCheckpointOptions(shape: SyntheticShape(name: real.name, reference: real.reference, config: config,
                                                                                            fields: real.fields),
                                                                     dtype: .bf16, seed: 3, layers: 24, maxShardBytes: 60_000_000), to: path)
        return path
    }

    func run(_ arguments: [String]) throws -> [String: Any] {
        let result = try runProgram(executable, arguments + ["--threads", "2", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try lastJSONObject(result.stdout)
    }

    func testStreamedAndResidentRunsAreBitIdentical() throws {
        let model = try Self.writeModel(in: folder)
        let ppl = ["eval", "ppl", "--model", model, "--data", "tiny", "--seqlen", "64", "--windows", "6", "--batch", "2"]
        let resident = try run(ppl)
        let streamed = try run(ppl + ["--memory-budget", "300MiB"])
        XCTAssertEqual(resident["residency"] as? String, "resident")
        XCTAssertEqual(streamed["residency"] as? String, "streamed")
        let nll = try [resident, streamed].map { try XCTUnwrap($0["mean_nll"] as? Double).bitPattern }
        XCTAssertEqual(nll[0], nll[1], "mean NLL differs between resident and streamed")

        let prune = ["prune", "--model", model, "--method", "intraslice", "--ratio", "0.3", "--cal-samples", "4", "--cal-seqlen", "64",
                     "--calibration", "tiny", "--no-checkpoints"]
        let outputs = ["resident", "streamed"].map { folder.appendingPathComponent("pruned-\($0)") }
        let prunedResident = try run(prune + ["--output", outputs[0].path])
        let prunedStreamed = try run(prune + ["--output", outputs[1].path, "--memory-budget", "300MiB"])
        XCTAssertEqual(prunedResident["residency"] as? String, "resident")
        XCTAssertEqual(prunedStreamed["residency"] as? String, "streamed")
        for file in ["model.safetensors", "config.json"] {
            XCTAssertEqual(try Data(contentsOf: outputs[0].appendingPathComponent(file)), try Data(contentsOf: outputs[1].appendingPathComponent(file)), file)
        }
    }

    func testARunThatFitsNeitherWayIsRefusedWithTheEstimate() throws {
        let model = try Self.writeModel(in: folder)
        let result = try runProgram(executable, ["eval", "ppl", "--model", model, "--data", "tiny", "--seqlen", "64", "--windows", "1",
                                                 "--memory-budget", "20MiB"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("streamed") && result.stderr.contains("the memory budget is 0.02 GiB"), result.stderr)
    }
}
