import Foundation
import ModelIO
import TestSupport
import XCTest

/// `prune --allocation` and `report allocation` end to end on SmolLM2-135M with a small
/// calibration set (8 windows of 128 tokens: the gradient pass takes seconds).
final class AllocationCommandTests: XCTestCase {
    var executable: String { CLITests.executable }

    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
    }

    func pruneArguments(_ method: String, allocation: String?, ratio: String = "0.3", into output: String) -> [String] {
        ["prune", "--method", method, "--ratio", ratio, "--ratio-kind", "params", "--calibration", "wiki", "--cal-samples", "8",
         "--cal-seqlen", "128", "--output", output, "--threads", "2", "--no-checkpoints", "--json"] + (allocation.map { ["--allocation", $0] } ?? [])
    }

    func prune(_ method: String, allocation: String?, into output: String) throws -> [String: Any] {
        let run = try runProgram(executable, pruneArguments(method, allocation: allocation, into: output))
        XCTAssertEqual(run.status, 0, run.stderr)
        return try lastJSONObject(run.stdout)
    }

    /// IntraSlice's default is the global allocation; it and global_pca for magnitude meet
    /// the decoder target within 0.5 %, record non-uniform ratios under the cap and the
    /// dense calibration loss; `report allocation` draws both folders.
    func testGlobalAllocationsMeetTheTargetAndAreDrawn() throws {
        let folder = try makeTemporaryFolder("allocation-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let intraslice = folder.appendingPathComponent("intraslice").path, magnitude = folder.appendingPathComponent("magnitude").path
        for (json, expected) in [(try prune("intraslice", allocation: nil, into: intraslice), "global"),
                                 (try prune("magnitude", allocation: "global_pca", into: magnitude), "global_pca")] {
            XCTAssertEqual(json["decoder_reduction"] as? Double ?? 0, 0.3, accuracy: 0.005 * 0.3)
            let allocation = try XCTUnwrap(json["allocation"] as? [String: Any])
            XCTAssertEqual((allocation["settings"] as? [String: Any])?["allocation"] as? String, expected)
            let attention = try XCTUnwrap(allocation["attention_ratios"] as? [Double]), mlp = try XCTUnwrap(allocation["mlp_ratios"] as? [Double])
            XCTAssertEqual(attention.count, 30)
            XCTAssertEqual(mlp.count, 30)
            XCTAssertTrue((attention + mlp).allSatisfy { $0 >= 0 && $0 <= 0.8 + 1e-12 })
            XCTAssertGreaterThan(Set(mlp).count, 1, "a global allocation is not uniform")
            XCTAssertGreaterThan(allocation["calibration_loss"] as? Double ?? 0, 1)
            XCTAssertNotNil((json["timings"] as? [String: Double])?["allocation_s"])
        }
        let svg = folder.appendingPathComponent("allocation.svg").path
        let report = try runProgram(executable, ["report", "allocation", intraslice, magnitude, "--output", svg])
        XCTAssertEqual(report.status, 0, report.stderr)
        let drawing = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertEqual(drawing.components(separatedBy: "<polyline").count - 1, 4, "attention and MLP of two folders")
        XCTAssertTrue(drawing.contains("intraslice 30 % global") && drawing.contains("magnitude 30 % global_pca"))
    }

    func testAnAllocationAMethodCannotTakeIsRefusedBeforeAnyWork() throws {
        let slicegpt = try runProgram(executable, ["prune", "--method", "slicegpt", "--ratio", "0.3", "--ratio-kind", "params",
                                                   "--allocation", "global", "--output", "/tmp/never-allocated", "--json"])
        XCTAssertNotEqual(slicegpt.status, 0)
        XCTAssertTrue(slicegpt.stderr.contains("--allocation global applies to"), slicegpt.stderr)
        let width = try runProgram(executable, ["prune", "--method", "intraslice", "--ratio", "0.3", "--allocation", "global",
                                                "--output", "/tmp/never-allocated", "--json"])
        XCTAssertNotEqual(width.status, 0)
        XCTAssertTrue(width.stderr.contains("use --ratio-kind params"), width.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/never-allocated"))
    }
}

extension AllocationCommandTests {
    /// global_pca with 8 windows in 2 groups of 4: a run on 2 threads, one on 1 thread, and one
    /// killed with SIGKILL once its gradient pass has saved the first group (then run again,
    /// resuming after it) write the same weights and the same allocation (ratios and the
    /// dense loss, exact).
    func testGradientPassRunsAreBitIdenticalOnAnyThreadsAndAfterKill9() throws {
        let folder = try makeTemporaryFolder("allocation-determinism")
        defer { try? FileManager.default.removeItem(at: folder) }
        func arguments(_ output: URL, threads: Int, checkpoints: Bool) -> [String] {
            ["prune", "--method", "intraslice", "--ratio", "0.3", "--ratio-kind", "params", "--allocation", "global_pca", "--units-per-head", "4",
             "--allocation-group", "4", "--calibration", "wiki", "--cal-samples", "8", "--cal-seqlen", "128", "--output", output.path, "--threads", "\(threads)", "--json"]
                + (checkpoints ? ["--checkpoint-interval", "0"] : ["--no-checkpoints"])
        }
        let first = folder.appendingPathComponent("first"), second = folder.appendingPathComponent("second")
        let resumed = folder.appendingPathComponent("resumed")
        for (output, threads) in [(first, 2), (second, 1)] {
            let run = try runProgram(executable, arguments(output, threads: threads, checkpoints: false))
            XCTAssertEqual(run.status, 0, run.stderr)
        }
        let manifest = folder.appendingPathComponent(".resumed.resume/allocation.json")
        let killed = try runKilled(executable, arguments(resumed, threads: 2, checkpoints: true)) {
            guard let data = try? Data(contentsOf: manifest),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
            return json["windowsDone"] as? Int == 4
        }
        XCTAssertTrue(killed, "the prune finished before it could be killed")
        let rerun = try runProgram(executable, arguments(resumed, threads: 2, checkpoints: true))
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains("allocation: resumed after 4/8 windows"), rerun.stderr)
        for other in [second, resumed] {
            for file in ["model.safetensors", "config.json"] {
                XCTAssertEqual(try Data(contentsOf: first.appendingPathComponent(file)), try Data(contentsOf: other.appendingPathComponent(file)),
                               "\(other.lastPathComponent)/\(file)")
            }
            XCTAssertEqual(try allocation(first), try allocation(other), other.lastPathComponent)
        }
    }

    /// A global_pca prune leaves its gradient sums in importance.h5; given as --importance,
    /// they serve a global prune at another ratio and a global_pca one at the same ratio
    /// without a gradient pass, with the weights and allocation of runs that measured them.
    /// Sums from other calibration windows, sums without the PCA covariances for global_pca,
    /// and --importance with the uniform allocation are refused, naming the file.
    func testAnEarlierPrunesImportanceServesOtherRatiosAndAllocationsBitIdentically() throws {
        let folder = try makeTemporaryFolder("allocation-importance")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = { (name: String) in folder.appendingPathComponent(name) }
        func run(_ arguments: [String]) throws -> (stderr: String, status: Int32) {
            let run = try runProgram(executable, arguments)
            return (run.stderr, run.status)
        }
        let measured = [("pca", "global_pca", "0.3"), ("global", "global", "0.2")]
        for (name, allocation, ratio) in measured {
            let made = try run(pruneArguments("intraslice", allocation: allocation, ratio: ratio, into: path(name).path))
            XCTAssertEqual(made.status, 0, made.stderr)
            XCTAssertTrue(FileManager.default.fileExists(atPath: path(name).appendingPathComponent("importance.h5").path))
        }
        let source = path("pca").appendingPathComponent("importance.h5").path
        for (name, kind, ratio) in measured {
            let reused = try run(pruneArguments("intraslice", allocation: kind, ratio: ratio, into: path(name + "-reused").path) + ["--importance", source])
            XCTAssertEqual(reused.status, 0, reused.stderr)
            XCTAssertTrue(reused.stderr.contains("the gradient sums of 8 windows from \(source)"), reused.stderr)
            XCTAssertFalse(reused.stderr.contains("mask gradients of the dense model"), reused.stderr)
            XCTAssertEqual(try Data(contentsOf: path(name).appendingPathComponent("model.safetensors")),
                           try Data(contentsOf: path(name + "-reused").appendingPathComponent("model.safetensors")), name)
            let original = try allocation(path(name)).mutableCopy() as! NSMutableDictionary
            let copy = try allocation(path(name + "-reused")).mutableCopy() as! NSMutableDictionary
            XCTAssertEqual(copy["importance_from"] as? String, source)
            copy.removeObject(forKey: "importance_from")
            XCTAssertEqual(original, copy, name)
        }
        let refusals: [([String], String)] = [
            (pruneArguments("intraslice", allocation: "global_pca", into: path("no-pca").path) + ["--importance", path("global").path],
             "\(path("global").path): it lacks the PCA covariances global_pca needs"),
            (pruneArguments("intraslice", allocation: "global", into: path("other-seed").path) + ["--importance", source, "--seed", "1"],
             "\(source): it was made on other calibration windows"),
            (pruneArguments("intraslice", allocation: "uniform", into: path("uniform").path) + ["--importance", source],
             "--importance feeds a global allocation"),
        ]
        for (arguments, message) in refusals {
            let refused = try run(arguments)
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertTrue(refused.stderr.contains(message), refused.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: arguments[arguments.firstIndex(of: "--output")! + 1]))
        }
    }

    /// pruning.json's allocation record.
    func allocation(_ folder: URL) throws -> NSDictionary {
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("pruning.json"))) as? [String: Any])
        return try XCTUnwrap(json["allocation"] as? [String: Any]) as NSDictionary
    }
}
