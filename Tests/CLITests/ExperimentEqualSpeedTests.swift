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

    /// `--stand-in-windows 1 --search-only` times stand-ins (their probes say so and carry
    /// their shapes) and leaves every cell unfinished, with no other cell run; the run
    /// without them prunes at the ratio found, checks that model's shapes against the
    /// stand-in timed there, and evaluates it.
    func testStandInSearchesRunAloneAndTheirRatioIsPrunedWithItsShapes() throws {
        let folder = try makeTemporaryFolder("equal-speed-stand-in")
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("stand-in.yaml"), results = folder.appendingPathComponent("results")
        try """
            name: stand-in-check
            models: [smollm2-135m]
            methods: [wanda]
            ratios: [0.2]
            calibration: {samples: 4, seqlen: 128}
            evaluations:
              perplexity: [{data: wikitext2, seqlen: 256, windows: 1}]
            equal_speed:
              - {kind: prefill, batch: 1, length: 128, speedup: 1.2, steps: 1}
            """.write(to: config, atomically: true, encoding: .utf8)
        let searched = try runProgram(executable, ["experiment", "run", config.path, "--results", results.path, "--threads", "2",
                                                   "--stand-in-windows", "1", "--search-only"])
        XCTAssertEqual(searched.status, 0, searched.stderr)
        XCTAssertTrue(searched.stdout.contains("1 searches run"), searched.stdout)
        let cells = results.appendingPathComponent("cells/smollm2-135m")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cells.path), ["wanda-prefill-1x128-1.2x-s0"], "only the search ran")
        let cell = cells.appendingPathComponent("wanda-prefill-1x128-1.2x-s0")
        XCTAssertFalse(FileManager.default.fileExists(atPath: cell.appendingPathComponent("cell.json").path))
        let search = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: cell.appendingPathComponent("steps/search.json"))) as? [String: Any])
        let probes = try XCTUnwrap(search["probes"] as? [[String: Any]])
        XCTAssertEqual(probes.count, 2, "a probe at 0.6, then one halving")
        XCTAssertTrue(probes.allSatisfy { $0["stand_in_windows"] as? Int == 1 && ($0["shapes_sha256"] as? String)?.count == 64 }, "\(probes)")
        let stored = try storedModels(in: results.appendingPathComponent(".work"), model: "smollm2-135m")
        XCTAssertEqual(stored.count, 1, "the stand-in at the ratio found is kept for the cell")
        XCTAssertTrue(stored.allSatisfy { $0.contains("-standin1-") }, "\(stored)")

        let finished = try runProgram(executable, ["experiment", "run", config.path, "--results", results.path, "--threads", "2"])
        XCTAssertEqual(finished.status, 0, finished.stderr)
        XCTAssertFalse(finished.stderr.contains("timing"), "a saved search was timed again: \(finished.stderr)")
        let found = try XCTUnwrap(search["ratio"] as? Double)
        XCTAssertTrue(finished.stderr.contains("the prune at \(found) has the shapes of the stand-in timed there"), finished.stderr)
        let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: cell.appendingPathComponent("cell.json"))) as? [String: Any])
        let pruning = try XCTUnwrap(record["pruning"] as? [String: Any])
        XCTAssertEqual(pruning["ratio"] as? Double, found)
        XCTAssertNil(pruning["stand_in_windows"], "the model evaluated is the full prune")
        XCTAssertNotNil((record["perplexity"] as? [[String: Any]])?.first?["ppl"])
    }
}
