import Foundation
import ModelIO
import TestSupport
import XCTest

/// Pruned models shared through the work folder: a second config run with the same
/// `--work` and `--keep-models` evaluates the model the first one pruned (same identity:
/// model, method, ratio, calibration, seed) instead of pruning again, and a run without
/// `--keep-models` deletes what it used once its cell is done.
final class ExperimentSharedModelsTests: XCTestCase {
    var executable: String { CLITests.executable }

    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
    }

    func config(_ name: String, in folder: URL, ratios: String, evaluations: String) throws -> String {
        let file = folder.appendingPathComponent("\(name).yaml")
        try """
            name: \(name)
            models: [smollm2-135m]
            methods: [wanda]
            ratios: \(ratios)
            calibration: {samples: 2, seqlen: 128}
            evaluations:
            \(evaluations)
            """.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func testAConfigEvaluatesAnotherConfigsKeptModelAndARunWithoutKeepingDeletesIt() throws {
        let folder = try makeTemporaryFolder("shared-models")
        defer { try? FileManager.default.removeItem(at: folder) }
        let work = folder.appendingPathComponent("work")
        let perplexity = try config("ppl", in: folder, ratios: "[0.2, 0.3]", evaluations: "  perplexity: [{data: wikitext2, seqlen: 128, windows: 2}]")
        let zeroshot = try config("zeroshot", in: folder, ratios: "[0.3]", evaluations: "  zeroshot: {tasks: [piqa], limit: 4}")
        let run = { (config: String, results: String, keep: Bool) throws -> String in
            let run = try runProgram(self.executable, ["experiment", "run", config, "--results", folder.appendingPathComponent(results).path,
                                                       "--work", work.path, "--threads", "2"] + (keep ? ["--keep-models"] : []))
            XCTAssertEqual(run.status, 0, run.stderr)
            return run.stderr
        }
        let first = try run(perplexity, "ppl", true)
        XCTAssertFalse(first.contains("pruned before"), first)
        XCTAssertEqual(try storedModels(in: work, model: "smollm2-135m").count, 2, "both models kept")

        let second = try run(zeroshot, "zeroshot", true)
        XCTAssertTrue(second.contains("wanda-p0.30-s0: prune wanda at 0.3: pruned before"), second)
        XCTAssertFalse(second.contains("wanda-p0.30-s0: prune wanda at 0.3\n"), "pruned again: \(second)")
        let cell = "cells/smollm2-135m/wanda-p0.30-s0/steps/prune.json"
        XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("zeroshot/\(cell)")), try Data(contentsOf: folder.appendingPathComponent("ppl/\(cell)")))
        let records = try ["ppl", "zeroshot"].map { results in
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("\(results)/cells/smollm2-135m/wanda-p0.30-s0/cell.json"))) as? [String: Any])
        }
        let hashes = [((records[0]["perplexity"] as? [[String: Any]])?.first)?["model_sha256"] as? String,
                      (records[1]["zeroshot"] as? [String: Any])?["model_sha256"] as? String]
        XCTAssertNotNil(hashes[0])
        XCTAssertEqual(hashes[0], hashes[1], "the two configs evaluated different models")

        // Without --keep-models: the kept 0.3 model is used and deleted; the 0.2 one, not used, stays.
        let third = try run(zeroshot, "zeroshot-again", false)
        XCTAssertTrue(third.contains("prune wanda at 0.3: pruned before"), third)
        let remaining = try storedModels(in: work, model: "smollm2-135m")
        XCTAssertEqual(remaining.count, 1, "\(remaining)")
        XCTAssertTrue(remaining.first?.hasPrefix("wanda-params-0.200-") == true, "\(remaining)")
    }
}
