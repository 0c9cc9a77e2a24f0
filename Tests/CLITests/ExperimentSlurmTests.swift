import Foundation
import ModelIO
import TestSupport
import XCTest

/// `experiment slurm --submit` on a real single-node Slurm (Debian's slurm-wlm and munge,
/// started by Scripts/slurm-local.sh): the job array of two shards and the dependent
/// merge-and-report job run through sbatch, and the merged cells equal an unsharded run's.
final class ExperimentSlurmTests: XCTestCase {
    var executable: String { CLITests.executable }

    let config = """
        name: tiny
        models: [smollm2-135m]
        methods: [magnitude, wanda]
        ratios: [0.25]
        calibration: {samples: 2, seqlen: 128}
        evaluations:
          perplexity: [{seqlen: 256, windows: 2}]
          zeroshot: {tasks: [piqa], limit: 10}
        """

    func testAJobArrayAndItsMergeJobGiveTheUnshardedResults() throws {
        guard geteuid() == 0 else { throw XCTSkip("the single-node Slurm runs its daemons as root") }
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
        let script = repositoryRoot.appendingPathComponent("Scripts/slurm-local.sh").path
        let started = try spawnAndWait(script, "start")
        XCTAssertEqual(started.status, 0, started.output)
        defer { _ = try? spawnAndWait(script, "stop") }
        let conf = try XCTUnwrap(started.output.split(separator: "\n").last { $0.hasPrefix("export SLURM_CONF=") }?.dropFirst("export SLURM_CONF=".count))
        let slurm = ["SLURM_CONF": String(conf)]

        let folder = try makeTemporaryFolder("experiment-slurm")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("tiny.yaml")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let results = folder.appendingPathComponent("slurm-results"), whole = folder.appendingPathComponent("whole")
        let submitted = try runProgram(executable, ["experiment", "slurm", file.path, "--results", results.path, "--shards", "2", "--threads", "1",
                                                    "--submit"], environment: slurm)
        XCTAssertEqual(submitted.status, 0, submitted.stderr)
        XCTAssertTrue(submitted.stdout.contains("array job "), submitted.stdout)

        let run = try runProgram(executable, ["experiment", "run", file.path, "--results", whole.path, "--threads", "1"])
        XCTAssertEqual(run.status, 0, run.stderr)

        let report = results.appendingPathComponent("report.html")
        let deadline = Date().addingTimeInterval(900)
        while !FileManager.default.fileExists(atPath: report.path) && Date() < deadline {
            let queue = try runProgram("/usr/bin/squeue", ["-h"], environment: slurm)
            if queue.status == 0 && queue.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { break }
            sleep(2)
        }
        let logs = results.appendingPathComponent("slurm/logs")
        let logText = ((try? FileManager.default.contentsOfDirectory(atPath: logs.path)) ?? []).sorted().map {
            "\($0): " + ((try? String(contentsOf: logs.appendingPathComponent($0), encoding: .utf8)) ?? "")
        }.joined(separator: "\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: report.path), "no report after the jobs ended; logs:\n\(logText)")
        for shard in ["1", "2"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: results.appendingPathComponent("shards/\(shard)/experiment.json").path), "shard \(shard) did not run")
        }
        let reference = try measuredCells(whole)
        XCTAssertEqual(reference.count, 3)
        XCTAssertEqual(try measuredCells(results.appendingPathComponent("merged")), reference)
    }

    /// Runs `script argument` through posix_spawn and waitpid, its output to a file. The
    /// script leaves daemons behind, and Foundation's Process was seen never to notice the
    /// script's own exit then (the test hung in waitUntilExit with the script a zombie).
    func spawnAndWait(_ script: String, _ argument: String) throws -> (status: Int32, output: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("slurm-local-\(getpid())-\(argument).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let command = "'\(script)' \(argument) >'\(log.path)' 2>&1 </dev/null"
        var pid: pid_t = 0
        let arguments = ["/bin/bash", "-c", command]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let spawned = posix_spawn(&pid, "/bin/bash", nil, nil, &argv, environ)
        guard spawned == 0 else { throw XCTSkip("cannot start /bin/bash: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return ((status >> 8) & 0xff, output)
    }
}
