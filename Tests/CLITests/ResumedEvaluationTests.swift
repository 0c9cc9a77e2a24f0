import Foundation
import H5Store
import ModelIO
import TestSupport
import XCTest

/// Evaluations killed with SIGKILL part-way and run again: a text changed in between
/// (same path, same name) finds none of its old windows, and a resumed zero-shot run says
/// which documents came from the log and times only the others.
final class ResumedEvaluationTests: XCTestCase {
    var executable: String { CLITests.executable }
    var folder: URL!

    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
        folder = try makeTemporaryFolder("resumed-eval")
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// Starts the command and kills it with SIGKILL once its resume log holds `units` units.
    func killed(after units: Int, _ arguments: [String], log: URL) throws {
        let killed = try runKilled(executable, arguments) {
            // The first line is the key; each further complete line is one unit.
            guard let text = try? String(contentsOf: log, encoding: .utf8) else { return false }
            return text.filter { $0 == "\n" }.count > units
        }
        XCTAssertTrue(killed, "the command finished before it could be killed")
    }

    func testATextChangedUnderTheSamePathResumesNothingAndItsGroupIsItsFileName() throws {
        let text = folder.appendingPathComponent("my text.txt")
        let wiki = try String(contentsOf: AssetCache.root.appendingPathComponent("text/wikitext2-test.raw"), encoding: .utf8)
        try String(wiki.prefix(60_000)).write(to: text, atomically: true, encoding: .utf8)
        let output = folder.appendingPathComponent("run.h5"), log = folder.appendingPathComponent("run.h5.resume.jsonl")
        let arguments = ["eval", "ppl", "--data", text.path, "--seqlen", "128", "--windows", "12", "--threads", "2",
                         "--output", output.path, "--json"]

        try killed(after: 3, arguments, log: log)
        let unchanged = try runProgram(executable, arguments)
        XCTAssertEqual(unchanged.status, 0, unchanged.stderr)
        XCTAssertGreaterThanOrEqual(try lastJSONObject(unchanged.stdout)["windows_resumed"] as? Int ?? 0, 3)

        try killed(after: 3, arguments, log: log)
        // The same path and length, other content: none of the logged windows may be used.
        try String(wiki.dropFirst(100).prefix(60_000)).write(to: text, atomically: true, encoding: .utf8)
        let changed = try runProgram(executable, arguments)
        XCTAssertEqual(changed.status, 0, changed.stderr)
        let json = try lastJSONObject(changed.stdout)
        XCTAssertEqual(json["windows_resumed"] as? Int, 0)
        let fresh = try runProgram(executable, arguments.filter { $0 != output.path && $0 != "--output" })
        XCTAssertEqual(json["ppl"] as? Double, try lastJSONObject(fresh.stdout)["ppl"] as? Double)

        // A path becomes one group named by the file, never nested groups.
        XCTAssertEqual(json["data"] as? String, "my_text.txt")
        XCTAssertEqual(try H5Reader(path: output.path).children(of: "/perplexity"), ["my_text.txt"])
    }

    func testAResumedZeroShotRunSaysSoAndTimesOnlyWhatItScored() throws {
        let output = folder.appendingPathComponent("zs.h5"), log = folder.appendingPathComponent("zs.h5.resume.jsonl")
        let arguments = ["eval", "zeroshot", "--tasks", "arc_easy", "--limit", "60", "--rows-per-call", "64", "--threads", "1",
                         "--output", output.path, "--json"]
        try killed(after: 5, arguments, log: log)
        let resumed = try runProgram(executable, arguments)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let json = try lastJSONObject(resumed.stdout)
        let count = try XCTUnwrap(json["documents_resumed"] as? Int)
        XCTAssertGreaterThanOrEqual(count, 5)
        XCTAssertTrue(resumed.stderr.contains("arc_easy: \(count) documents taken from the resume log; the throughput is over the \(60 - count) scored now"),
                      resumed.stderr)
        let attributes = try H5Reader(path: output.path).attributes(of: "/zeroshot/arc_easy")
        XCTAssertEqual(attributes["documents_resumed"]?.intValue, Int64(count))
        let seconds = try XCTUnwrap(attributes["seconds"]?.doubleValue), rate = try XCTUnwrap(attributes["documents_per_second"]?.doubleValue)
        XCTAssertEqual(rate, Double(60 - count) / seconds, accuracy: 1e-9 * rate)
    }
}
