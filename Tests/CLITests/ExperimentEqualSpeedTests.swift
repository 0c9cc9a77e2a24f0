import Foundation
import ModelIO
import TestSupport
import XCTest

/// `experiment run` with an equal-speed target on SmolLM2-135M: the search is killed with
/// SIGKILL after its first probe and resumed without timing that probe again; it ends with
/// the bisection's probes, a chosen ratio whose measured speedup reached the target while
/// every smaller probe missed it, and the evaluations run on the model pruned at that ratio.
final class ExperimentEqualSpeedTests: XCTestCase {
    var executable: String { CLITests.executable }

    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
    }

    func testAKilledSearchResumesAndEvaluatesTheModelAtTheRatioFound() throws {
        let folder = try makeTemporaryFolder("equal-speed")
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("equal-speed.yaml"), results = folder.appendingPathComponent("results")
        // Magnitude-sp at 60 % is about twice as fast on this shape; 1.2× lies inside the range.
        try """
            name: equal-speed-check
            models: [smollm2-135m]
            methods: [magnitude]
            ratios: [0.2]
            calibration: {samples: 2, seqlen: 128}
            evaluations:
              perplexity: [{data: wikitext2, seqlen: 256, windows: 2}]
            equal_speed:
              - {kind: prefill, batch: 1, length: 128, speedup: 1.2, steps: 2}
            """.write(to: config, atomically: true, encoding: .utf8)
        let cell = results.appendingPathComponent("cells/smollm2-135m/magnitude-prefill-1x128-1.2x-s0")
        let firstProbe = cell.appendingPathComponent("steps/probe-0.json")
        let killed = try runKilled(executable, ["experiment", "run", config.path, "--results", results.path, "--threads", "2"]) {
            FileManager.default.fileExists(atPath: firstProbe.path)
        }
        XCTAssertTrue(killed, "the run finished before it could be killed")
        let probeBefore = try Data(contentsOf: firstProbe)
        let resumed = try runProgram(executable, ["experiment", "run", config.path, "--results", results.path, "--threads", "2"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertFalse(resumed.stderr.contains("probe-0: timing"), "a saved probe was timed again: \(resumed.stderr)")
        XCTAssertEqual(try Data(contentsOf: firstProbe), probeBefore)

        let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: cell.appendingPathComponent("cell.json"))) as? [String: Any])
        let search = try XCTUnwrap(record["equal_speed"] as? [String: Any])
        let probes = try XCTUnwrap(search["probes"] as? [[String: Any]])
        XCTAssertEqual(probes.map { $0["ratio"] as? Double }, [0.6] + probes.dropFirst().map { $0["ratio"] as? Double })
        XCTAssertEqual(probes.count, 3, "a probe at 0.6, then two halvings")
        let found = try XCTUnwrap(search["ratio"] as? Double)
        for probe in probes {
            let ratio = try XCTUnwrap(probe["ratio"] as? Double), speedup = try XCTUnwrap(probe["speedup"] as? Double)
            if ratio == found { XCTAssertGreaterThanOrEqual(speedup, 1.2) }
            if ratio < found { XCTAssertLessThan(speedup, 1.2, "a smaller ratio reached the target: \(probes)") }
        }
        XCTAssertEqual(record["ratio"] as? Double, found)
        let pruning = try XCTUnwrap(record["pruning"] as? [String: Any])
        XCTAssertEqual(pruning["ratio"] as? Double, found)
        let perplexity = try XCTUnwrap((record["perplexity"] as? [[String: Any]])?.first)
        let dense = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: results.appendingPathComponent("cells/smollm2-135m/dense/cell.json"))) as? [String: Any])
        XCTAssertNotEqual(perplexity["model_sha256"] as? String, ((dense["perplexity"] as? [[String: Any]])?.first)?["model_sha256"] as? String)
        XCTAssertEqual(try storedModels(in: results.appendingPathComponent(".work"), model: "smollm2-135m"), [], "probe models left behind once the cell is done")

        let table = folder.appendingPathComponent("report.md")
        let report = try runProgram(executable, ["experiment", "report", results.path, "--format", "md", "--output", table.path])
        XCTAssertEqual(report.status, 0, report.stderr)
        let text = try String(contentsOf: table, encoding: .utf8)
        XCTAssertTrue(text.contains("**smollm2-135m: equal speed, prefill 1×128 ≥ 1.2× the dense model**"), text)
        XCTAssertTrue(text.contains(String(format: "| magnitude | %.1f %% |", 100 * found)), text)
    }
}
