import Foundation
import H5Store
import ModelIO
import TestSupport
import XCTest

/// The same prune gives the same bytes: a run with 2 threads, one with 1 thread (products
/// are cut into tiles by shape, not by thread count), and a run killed with SIGKILL
/// part-way and run again (which resumes from its saved state), all write the same weights,
/// the same statistics and the same pruning.json but for its timings and thread count.
final class PruneDeterminismTests: XCTestCase {
    var executable: String { CLITests.executable }

    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
    }

    /// The state is saved after every layer (0), or never (nil), or looked for but not saved
    /// again (1000 s): saving does not change the numbers, and writing the model after
    /// every layer of every run would make the test slow.
    func arguments(_ output: URL, checkpointInterval: Int?, threads: Int = 2, samples: Int = 4, seqlen: Int = 128) -> [String] {
        ["prune", "--method", "intraslice", "--ratio", "0.3", "--cal-samples", "\(samples)", "--cal-seqlen", "\(seqlen)", "--threads", "\(threads)",
         "--output", output.path, "--json"] + (checkpointInterval.map { ["--checkpoint-interval", "\($0)"] } ?? ["--no-checkpoints"])
    }

    func testRunsWithTwoThreadsOneThreadAndResumedAfterKill9AreBitIdentical() throws {
        let folder = try makeTemporaryFolder("prune-determinism")
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = folder.appendingPathComponent("first"), second = folder.appendingPathComponent("second")
        let resumed = folder.appendingPathComponent("resumed")
        for (output, threads) in [(first, 2), (second, 1)] {
            let run = try runProgram(executable, arguments(output, checkpointInterval: nil, threads: threads))
            XCTAssertEqual(run.status, 0, run.stderr)
        }

        // Killed once its saved state has passed layer 3 of 30.
        let manifest = folder.appendingPathComponent(".resumed.resume/state.json")
        let killed = try runKilled(executable, arguments(resumed, checkpointInterval: 0)) {
            guard let data = try? Data(contentsOf: manifest),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
            return json["nextLayer"] as? Int ?? 0 >= 3
        }
        XCTAssertTrue(killed, "the prune finished before it could be killed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: resumed.path), "a killed prune leaves no folder under the real name")

        let rerun = try runProgram(executable, arguments(resumed, checkpointInterval: 1000))
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains("resumed after layer"), rerun.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: manifest.deletingLastPathComponent().path), "the saved state is removed")

        for other in [second, resumed] {
            for file in ["model.safetensors", "config.json"] {
                XCTAssertEqual(try Data(contentsOf: first.appendingPathComponent(file)), try Data(contentsOf: other.appendingPathComponent(file)),
                               "\(other.lastPathComponent)/\(file)")
            }
            XCTAssertEqual(try statistics(first), try statistics(other), other.lastPathComponent)
            XCTAssertEqual(try pruningRecord(first), try pruningRecord(other), other.lastPathComponent)
        }
    }

    /// A streamed prune (one layer held at a time, each finished layer written out and
    /// dropped) killed part-way resumes from the layers it saved apart and writes what a
    /// resident run writes.
    func testAStreamedRunKilledWithSIGKILLResumesToTheResidentRunsBytes() throws {
        let folder = try makeTemporaryFolder("prune-streamed-resume")
        defer { try? FileManager.default.removeItem(at: folder) }
        let resident = folder.appendingPathComponent("resident"), streamed = folder.appendingPathComponent("streamed")
        let run = try runProgram(executable, arguments(resident, checkpointInterval: nil))
        XCTAssertEqual(run.status, 0, run.stderr)

        let budget = ["--memory-budget", "300MiB"]
        let manifest = folder.appendingPathComponent(".streamed.resume/state.json")
        let killed = try runKilled(executable, arguments(streamed, checkpointInterval: 0) + budget) {
            guard let data = try? Data(contentsOf: manifest),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
            return json["nextLayer"] as? Int ?? 0 >= 3
        }
        XCTAssertTrue(killed, "the prune finished before it could be killed")
        let rerun = try runProgram(executable, arguments(streamed, checkpointInterval: 1000) + budget)
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains("resumed after layer"), rerun.stderr)
        XCTAssertEqual(try lastJSONObject(rerun.stdout)["residency"] as? String, "streamed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: manifest.deletingLastPathComponent().path), "the saved state is removed")
        for file in ["model.safetensors", "config.json"] {
            XCTAssertEqual(try Data(contentsOf: resident.appendingPathComponent(file)), try Data(contentsOf: streamed.appendingPathComponent(file)), file)
        }
        XCTAssertEqual(try statistics(resident), try statistics(streamed))
        var record = try pruningRecord(streamed) as! [String: Any]
        XCTAssertEqual(record.removeValue(forKey: "residency") as? String, "streamed")
        var residentRecord = try pruningRecord(resident) as! [String: Any]
        residentRecord.removeValue(forKey: "residency")
        XCTAssertEqual(residentRecord as NSDictionary, record as NSDictionary)
    }

    /// A prune whose calibration activations do not fit its budget keeps them in unnamed
    /// files (streamed as well); killed part-way, it resumes, and it writes what a resident
    /// run writes. 32 × 256 calibration tokens make the stream large enough (107 MB) that
    /// 180 MiB lies between the spilling plan (0.14 GiB) and the streamed one (0.21 GiB).
    func testASpillingRunKilledWithSIGKILLResumesToTheResidentRunsBytes() throws {
        let folder = try makeTemporaryFolder("prune-spill-resume")
        defer { try? FileManager.default.removeItem(at: folder) }
        let resident = folder.appendingPathComponent("resident"), spilled = folder.appendingPathComponent("spilled")
        let run = try runProgram(executable, arguments(resident, checkpointInterval: nil, samples: 32, seqlen: 256))
        XCTAssertEqual(run.status, 0, run.stderr)

        let budget = ["--memory-budget", "180MiB"]
        let manifest = folder.appendingPathComponent(".spilled.resume/state.json")
        let killed = try runKilled(executable, arguments(spilled, checkpointInterval: 0, samples: 32, seqlen: 256) + budget) {
            guard let data = try? Data(contentsOf: manifest),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
            return json["nextLayer"] as? Int ?? 0 >= 3
        }
        XCTAssertTrue(killed, "the prune finished before it could be killed")
        let rerun = try runProgram(executable, arguments(spilled, checkpointInterval: 1000, samples: 32, seqlen: 256) + budget)
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains("spilling calibration activations"), rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains("resumed after layer"), rerun.stderr)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        XCTAssertTrue(names.allSatisfy { !$0.hasPrefix(".intraslice-spill-") }, "spill files have no names: \(names)")
        for file in ["model.safetensors", "config.json"] {
            XCTAssertEqual(try Data(contentsOf: resident.appendingPathComponent(file)), try Data(contentsOf: spilled.appendingPathComponent(file)), file)
        }
        XCTAssertEqual(try statistics(resident), try statistics(spilled))
        var record = try pruningRecord(spilled) as! [String: Any]
        XCTAssertEqual(record.removeValue(forKey: "calibration_spilled") as? Bool, true)
        XCTAssertEqual(record.removeValue(forKey: "residency") as? String, "streamed")
        var residentRecord = try pruningRecord(resident) as! [String: Any]
        XCTAssertNil(residentRecord["calibration_spilled"])
        residentRecord.removeValue(forKey: "residency")
        XCTAssertEqual(residentRecord as NSDictionary, record as NSDictionary)
    }

    /// Every dataset of statistics.h5 by path, as the bit patterns of its values (float64,
    /// or int64 for indices and counts).
    func statistics(_ folder: URL) throws -> [String: [UInt64]] {
        let h5 = try H5Reader(path: folder.appendingPathComponent("statistics.h5").path)
        var datasets: [String: [UInt64]] = [:]
        func visit(_ path: String) throws {
            for child in try h5.children(of: path) {
                let full = path == "/" ? "/\(child)" : "\(path)/\(child)"
                if h5.kind(of: full) == .group {
                    try visit(full)
                } else {
                    datasets[full] = try (try? h5.read(full, as: Double.self).values.map(\.bitPattern))
                        ?? h5.read(full, as: Int64.self).values.map { UInt64(bitPattern: $0) }
                }
            }
        }
        try visit("/statistics")
        XCTAssertFalse(datasets.isEmpty)
        return datasets
    }

    /// pruning.json without the fields that time the run or say how many threads it had.
    func pruningRecord(_ folder: URL) throws -> NSDictionary {
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("pruning.json"))) as? [String: Any])
        for key in ["timings", "created_utc", "peak_rss_bytes", "resumed_from_layer", "blas_threads"] { json.removeValue(forKey: key) }
        return json as NSDictionary
    }
}
