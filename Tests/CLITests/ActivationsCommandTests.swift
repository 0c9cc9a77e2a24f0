import Foundation
import H5Store
import ModelIO
import TestSupport
import XCTest

/// `intraslice activations` end to end on SmolLM2: a pruned model against its dense one.
final class ActivationsCommandTests: XCTestCase {
    var executable: String { CLITests.executable }

    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
    }

    func activations(_ arguments: [String]) throws -> [String: Any] {
        let run = try runProgram(executable, ["activations", "--windows", "2", "--seqlen", "128", "--threads", "2", "--json"] + arguments)
        XCTAssertEqual(run.status, 0, run.stderr)
        return try lastJSONObject(run.stdout)
    }

    /// SliceGPT at slicing ratio 0 keeps every direction: its stream is the dense one
    /// rotated. Mapped back through the recorded bases it equals the dense stream within
    /// float32 rounding (relative error < 1e-4, next-token KL < 1e-6 nats); compared
    /// unmapped, the coordinates would not even correspond. A magnitude-pruned model
    /// (25 %) drifts measurably, more at the last layer than at the first.
    func testAPrunedStreamIsComparedWithTheDenseOneOnTheSameTokens() throws {
        let folder = try makeTemporaryFolder("activations")
        defer { try? FileManager.default.removeItem(at: folder) }
        let sliced = folder.appendingPathComponent("slicegpt-0").path, magnitude = folder.appendingPathComponent("magnitude-25").path
        for (method, ratio, kind, output) in [("slicegpt", "0", "slicing", sliced), ("magnitude", "0.25", "params", magnitude)] {
            let prune = try runProgram(executable, ["prune", "--method", method, "--ratio", ratio, "--ratio-kind", kind, "--cal-samples", "2",
                                                    "--cal-seqlen", "128", "--output", output, "--threads", "2"])
            XCTAssertEqual(prune.status, 0, prune.stderr)
        }
        let rotatedOutput = folder.appendingPathComponent("slicegpt.h5").path
        let rotated = try activations(["--model", sliced, "--reference", "smollm2-135m", "--sites", "residual_in,wdown_input",
                                       "--output", rotatedOutput])
        let errors = try XCTUnwrap(rotated["residual_relative_error"] as? [Double])
        XCTAssertEqual(errors.count, 30)
        XCTAssertLessThan(errors.max()!, 1e-4, "\(errors)")
        XCTAssertGreaterThan((rotated["residual_cosine"] as? [Double])?.min() ?? 0, 0.99999)
        XCTAssertLessThan(try XCTUnwrap(rotated["mean_next_token_kl"] as? Double), 1e-6)
        let h5 = try H5Reader(path: rotatedOutput)
        XCTAssertEqual(try h5.attribute("stream_mapped_back", of: "/comparison"), .int(1))
        XCTAssertEqual(Set(try h5.children(of: "/activations/layer_29")), ["residual_in", "wdown_input"])
        XCTAssertEqual(try h5.shape(of: "/reference_activations/layer_00/wdown_input/mean"), [1536])
        XCTAssertEqual(try h5.shape(of: "/comparison/next_token_kl"), [256])
        for part in ["residual", "attention", "mlp"] {
            XCTAssertEqual(try h5.shape(of: "/comparison/\(part)_relative_error"), [30])
            XCTAssertEqual(try h5.shape(of: "/comparison/\(part)_cosine"), [30])
        }

        let magnitudeOutput = folder.appendingPathComponent("magnitude.h5").path
        let pruned = try activations(["--model", magnitude, "--reference", "smollm2-135m", "--sites", "residual_in", "--output", magnitudeOutput])
        let drift = try XCTUnwrap(pruned["residual_relative_error"] as? [Double])
        XCTAssertGreaterThan(drift[0], 1e-3, "the first layer's MLP lost channels")
        XCTAssertGreaterThan(drift[29], drift[0])
        XCTAssertGreaterThan(try XCTUnwrap(pruned["mean_next_token_kl"] as? Double), 0.01)

        // Both files on one drift chart, labelled by method and ratio.
        let plots = folder.appendingPathComponent("plots")
        let report = try runProgram(executable, ["report", "activations", rotatedOutput, magnitudeOutput, "--output", plots.path])
        XCTAssertEqual(report.status, 0, report.stderr)
        let chart = try String(contentsOf: plots.appendingPathComponent("drift.svg"), encoding: .utf8)
        XCTAssertTrue(chart.contains(">slicegpt 0 % (KL 0.000)<") && chart.contains(">magnitude 25 % (KL "), chart)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: plots.path)),
                       ["spectrum-residual_in.svg", "variance-kept-residual_in.svg", "drift.svg", "drift-modules.svg",
                        "largest-residual_in.svg", "outliers-residual_in.svg"])
    }

    /// A Python user needs nothing of the harness: `Scripts/plot-activations.py` opens the
    /// file with h5py, prints each layer's top outlier channels (the ones the file holds)
    /// and writes its plots. Skipped only without a Python that has h5py and matplotlib
    /// (Scripts/test.sh provides one in INTRASLICE_PYTHON; then it must work).
    func testH5pyReadsTheStatisticsAndThePlotScriptDrawsThem() throws {
        let given = ProcessInfo.processInfo.environment["INTRASLICE_PYTHON"]
        let python = given ?? "/usr/bin/python3"
        let usable = FileManager.default.isExecutableFile(atPath: python) && (try? runProgram(python, ["-c", "import h5py, matplotlib"]).status) == 0
        if given != nil { XCTAssertTrue(usable, "INTRASLICE_PYTHON=\(python) cannot import h5py and matplotlib") }
        guard usable else { throw XCTSkip("no Python with h5py and matplotlib (Scripts/test.sh sets INTRASLICE_PYTHON)") }
        let folder = try makeTemporaryFolder("activations-python")
        defer { try? FileManager.default.removeItem(at: folder) }
        let stats = folder.appendingPathComponent("dense.h5").path
        _ = try activations(["--sites", "residual_in,wdown_input", "--output", stats])
        let plots = folder.appendingPathComponent("plots")
        let run = try runProgram(python, [repositoryRoot.appendingPathComponent("Scripts/plot-activations.py").path, stats, plots.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let h5 = try H5Reader(path: stats)
        let top = try h5.read("/activations/layer_20/residual_in/top_channels", as: Int64.self).values
        let line = try XCTUnwrap(run.stdout.split(separator: "\n").first { $0.hasPrefix("layer 20 residual_in:") })
        XCTAssertTrue(line.contains("top channels \(top[0]):"), "\(line) against \(top)")
        XCTAssertEqual(run.stdout.split(separator: "\n").count, 30)
        for png in ["spectrum-residual_in.png", "outliers-residual_in.png"] {
            XCTAssertEqual(try Data(contentsOf: plots.appendingPathComponent(png)).prefix(4), Data([0x89, 0x50, 0x4e, 0x47]), png)
        }
    }

    /// The benchmark runs both sides the asked number of rounds and leaves no scratch file.
    func testBenchActivationsReportsEveryRound() throws {
        let run = try runProgram(executable, ["bench", "activations", "--windows", "1", "--seqlen", "64", "--sites", "residual_in,key",
                                              "--repeats", "2", "--warmup", "0", "--threads", "2", "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let json = try lastJSONObject(run.stdout)
        XCTAssertEqual((json["cost_ratios"] as? [Double])?.count, 2)
        XCTAssertEqual(json["sites"] as? [String], ["residual_in", "key"])
        XCTAssertGreaterThan(json["forward_seconds_median"] as? Double ?? 0, 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path)
            .filter { $0.hasPrefix("intraslice-bench-activations-") }
        XCTAssertEqual(leftovers, [])
    }

    func testContradictoryRequestsAreRefusedBeforeAnythingRuns() throws {
        let folder = try makeTemporaryFolder("activations-refusals")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("stats.h5").path
        for (arguments, message) in [
            (["--sites", "residual_in,values"], "--sites: unknown site 'values' (known: residual_in, residual_mid"),
            (["--windows", "3000"], "wikitext2 has 304830 tokens: 2381 windows of 128, fewer than the 3000 asked for"),
            (["--keep-tokens", "300"], "--keep-tokens 300 is more than the run's 256 tokens"),
            (["--outlier-sigma", "0"], "--outlier-sigma must be positive"),
        ] {
            let run = try runProgram(executable, ["activations", "--windows", arguments[0] == "--windows" ? arguments[1] : "2", "--seqlen", "128",
                                                  "--output", output] + (arguments[0] == "--windows" ? [] : arguments))
            XCTAssertNotEqual(run.status, 0, "\(arguments)")
            XCTAssertTrue(run.stderr.contains(message), "\(arguments): \(run.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: output), "\(arguments) left a file")
        }
    }
}
