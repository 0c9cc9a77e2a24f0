import Foundation
import ModelIO
import TestSupport
import XCTest

/// `experiment run` and `experiment merge` on `Experiments/smoke.yaml` (SmolLM2-135M, every
/// method and evaluation kind on small samples): two shards, one of them killed with
/// SIGKILL part-way and run again, merge into the results of one uninterrupted unsharded
/// run.
final class ExperimentCommandTests: XCTestCase {
    var executable: String { CLITests.executable }
    let smoke = repositoryRoot.appendingPathComponent("Experiments/smoke.yaml").path

    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
    }

    func run(_ arguments: [String]) throws -> String {
        let run = try runProgram(executable, ["experiment"] + arguments + ["--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        return run.stderr
    }

    func testShardsOneKilledAndResumedMergeIntoTheUnshardedResults() throws {
        let folder = try makeTemporaryFolder("experiment")
        defer { try? FileManager.default.removeItem(at: folder) }
        let whole = folder.appendingPathComponent("whole"), first = folder.appendingPathComponent("first")
        let second = folder.appendingPathComponent("second"), merged = folder.appendingPathComponent("merged")
        _ = try run(["run", smoke, "--results", whole.path, "--threads", "2"])
        _ = try run(["run", smoke, "--results", first.path, "--shard", "1/2", "--threads", "2"])

        // Shard 2/2 is magnitude and SliceGPT: killed once magnitude is finished and
        // SliceGPT's prune is, i.e. during its evaluations.
        let magnitude = second.appendingPathComponent("cells/smollm2-135m/magnitude-p0.25-s0/cell.json")
        let slicePrune = second.appendingPathComponent("cells/smollm2-135m/slicegpt-p0.25-s0/steps/prune.json")
        let killed = try runKilled(executable, ["experiment", "run", smoke, "--results", second.path, "--shard", "2/2", "--threads", "2"]) {
            FileManager.default.fileExists(atPath: magnitude.path) && FileManager.default.fileExists(atPath: slicePrune.path)
        }
        XCTAssertTrue(killed, "the shard finished before it could be killed")
        usleep(500_000)
        XCTAssertEqual(try stepsRunning(under: second), [], "a step outlived its killed runner")
        let finishedBefore = try Data(contentsOf: magnitude)
        let resumed = try run(["run", smoke, "--results", second.path, "--shard", "2/2", "--threads", "2"])
        XCTAssertTrue(resumed.contains("slicegpt-p0.25-s0: prune slicegpt at 0.25: done before"), resumed)
        XCTAssertFalse(resumed.contains("magnitude-p0.25-s0"), "a finished cell was run again: \(resumed)")
        XCTAssertEqual(try Data(contentsOf: magnitude), finishedBefore)

        _ = try run(["merge", first.path, second.path, "--results", merged.path])
        let reference = try measuredCells(whole)
        XCTAssertEqual(reference.count, 5)
        for cell in reference.keys {
            for data in ["ppl-0.h5", "zeroshot.h5"] {
                let file = whole.appendingPathComponent("cells/\(cell)/steps/\(data)")
                XCTAssertEqual(try? Data(contentsOf: file).prefix(8), Data([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]), "\(file.path) is not an HDF5 file")
            }
        }
        XCTAssertEqual(try measuredCells(merged), reference)

        let overlap = try runProgram(executable, ["experiment", "merge", whole.path, first.path, "--results", folder.appendingPathComponent("overlap").path])
        XCTAssertNotEqual(overlap.status, 0)
        XCTAssertTrue(overlap.stderr.contains("is finished here and in \(whole.path)"), overlap.stderr)
    }

    /// A results folder belongs to one config; a config with an unknown key never starts.
    func testAnotherConfigsFolderAndAnUnknownKeyAreRefused() throws {
        let folder = try makeTemporaryFolder("experiment-refusals")
        defer { try? FileManager.default.removeItem(at: folder) }
        let results = folder.appendingPathComponent("results")
        try FileManager.default.createDirectory(at: results, withIntermediateDirectories: true)
        try Data(#"{"name":"other","config_sha256":"0123456789abcdef","config":{"name":"other","models":["smollm2-135m"],"methods":[{"method":"magnitude"}],"ratios":[0.1],"ratio_kind":"params","calibration":{"text":"wiki","samples":1,"seqlen":8,"sampling":"random","seeds":[0]},"evaluations":{"perplexity":[{"data":"wikitext2","seqlen":8,"windows":1}]}}}"#.utf8)
            .write(to: results.appendingPathComponent("experiment.json"))
        let other = try runProgram(executable, ["experiment", "run", smoke, "--results", results.path])
        XCTAssertNotEqual(other.status, 0)
        XCTAssertTrue(other.stderr.contains("error: \(results.path): holds results of another config ('other'"), other.stderr)

        let config = folder.appendingPathComponent("typo.yaml")
        try String(contentsOfFile: smoke, encoding: .utf8).replacingOccurrences(of: "ratio_kind:", with: "ratio_knd:")
            .write(to: config, atomically: true, encoding: .utf8)
        let typo = try runProgram(executable, ["experiment", "run", config.path, "--results", folder.appendingPathComponent("new").path])
        XCTAssertNotEqual(typo.status, 0)
        XCTAssertTrue(typo.stderr.contains("error: \(config.path): line "), typo.stderr)
        XCTAssertTrue(typo.stderr.contains("unknown key 'ratio_knd' at the top level"), typo.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("new").path))
    }

    /// `--model` runs one model's share of a two-model grid (the other model is never
    /// loaded) and refuses a model the config does not have.
    func testModelOptionRunsOnlyThatModelsCells() throws {
        let folder = try makeTemporaryFolder("experiment-model")
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("two-models.yaml")
        try """
            name: two-models
            models: [smollm2-135m, qwen2.5-0.5b]
            methods: [magnitude]
            ratios: [0.1]
            calibration: {text: wiki, samples: 1, seqlen: 16, sampling: random, seeds: [0]}
            evaluations:
              perplexity: [{data: wikitext2, seqlen: 16, windows: 1}]
            """.write(to: config, atomically: true, encoding: .utf8)
        let results = folder.appendingPathComponent("results")
        _ = try run(["run", config.path, "--results", results.path, "--model", "smollm2-135m", "--threads", "2"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: results.appendingPathComponent("cells").path), ["smollm2-135m"])
        XCTAssertEqual(try measuredCells(results).count, 2, "the dense and the magnitude cell of smollm2-135m")

        let unknown = try runProgram(executable, ["experiment", "run", config.path, "--results", results.path, "--model", "llama-2-7b"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("error: \(config.path): has no model 'llama-2-7b' for --model (its models: smollm2-135m, qwen2.5-0.5b)"), unknown.stderr)
    }

    /// `--cell` runs only the cells named (here the magnitude cell, not the dense one before
    /// it in the grid) and refuses an id the grid does not have.
    func testCellOptionRunsOnlyTheNamedCells() throws {
        let folder = try makeTemporaryFolder("experiment-cell")
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("one-cell.yaml")
        try """
            name: one-cell
            models: [smollm2-135m]
            methods: [magnitude]
            ratios: [0.1]
            calibration: {text: wiki, samples: 1, seqlen: 16, sampling: random, seeds: [0]}
            evaluations:
              perplexity: [{data: wikitext2, seqlen: 16, windows: 1}]
            """.write(to: config, atomically: true, encoding: .utf8)
        let results = folder.appendingPathComponent("results")
        _ = try run(["run", config.path, "--results", results.path, "--cell", "smollm2-135m/magnitude-p0.10-s0", "--threads", "2"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: results.appendingPathComponent("cells/smollm2-135m").path), ["magnitude-p0.10-s0"])
        XCTAssertEqual(try measuredCells(results).count, 1, "only the magnitude cell")

        let unknown = try runProgram(executable, ["experiment", "run", config.path, "--results", results.path, "--cell", "smollm2-135m/wanda-p0.10-s0"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("error: \(config.path): has no cell 'smollm2-135m/wanda-p0.10-s0' for --cell (its cells: smollm2-135m/dense, smollm2-135m/magnitude-p0.10-s0)"), unknown.stderr)
    }

    /// Processes whose command line names a path under `folder`.
    func stepsRunning(under folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc").filter { $0.allSatisfy(\.isNumber) }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return line.contains(folder.path) ? line : nil
        }
    }
}
