import Datasets
import Evaluation
import Foundation
import LinAlg
import ModelIO
import TestSupport
import Transformer
import XCTest

/// An interrupted evaluation resumes from its log: logged units come back bit-identical,
/// the rest is recomputed (in other batch groupings, so equal up to float rounding).
final class ResumeTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try makeTemporaryFolder("resume-\(name.count)") }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// Keeps the key line and the first `units` unit lines, then half of the next line: what
    /// a crash in the middle of a write leaves.
    func cut(_ path: String, keepingUnits units: Int) throws {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        var kept = lines.prefix(1 + units).joined(separator: "\n") + "\n"
        if lines.count > 1 + units { kept += String(lines[1 + units].prefix(10)) }
        try kept.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func testLogKeepsUnitsForTheSameKeyOnly() throws {
        let path = folder.appendingPathComponent("log.jsonl").path
        let log = try ResumeLog(path: path, key: "A")
        try log.record("x", [1.5, -0.1, .pi])
        try log.record("y", [2])
        XCTAssertEqual(try ResumeLog(path: path, key: "A").values(of: "x"), [1.5, -0.1, .pi])
        try cut(path, keepingUnits: 1)
        let reopened = try ResumeLog(path: path, key: "A")
        XCTAssertEqual(reopened.finishedCount, 1, "the cut line is skipped")
        XCTAssertNil(try ResumeLog(path: path, key: "B").values(of: "x"), "another key starts afresh")
        XCTAssertEqual(try ResumeLog(path: path, key: "A").finishedCount, 0, "and the old units are gone")
    }

    func testPerplexityResumesFromItsLog() throws {
        let model = TinyModels.model("llama")
        var rng = SeededGenerator(seed: 9)
        let ids = (0..<40).map { _ in Int32.random(in: 0..<50, using: &rng) }
        let path = folder.appendingPathComponent("ppl.jsonl").path
        let full = try Perplexity.evaluate(model: model, ids: ids, seqlen: 8, batch: 2, resume: ResumeLog(path: path, key: "k").scope(""))
        XCTAssertEqual(full.computedWindows, 5)
        try cut(path, keepingUnits: 3)
        let resumed = try Perplexity.evaluate(model: model, ids: ids, seqlen: 8, batch: 2, resume: ResumeLog(path: path, key: "k").scope(""))
        XCTAssertEqual(resumed.computedWindows, 2)
        XCTAssertEqual(Array(resumed.windowNLLSums.prefix(3)), Array(full.windowNLLSums.prefix(3)))
        for (a, b) in zip(resumed.windowNLLSums, full.windowNLLSums).dropFirst(3) { XCTAssertEqual(a, b, accuracy: 1e-5 * abs(b)) }
    }

    func testZeroShotResumesFromItsLog() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else { throw XCTSkip("smollm2-135m not cached") }
        let loaded = try ModelLoader.load("smollm2-135m")
        let documents = try ZeroShotTask.arc_easy.load(limit: 6)
        var scorer = ContinuationScorer(model: loaded.model)
        scorer.rowsPerCall = 64  // about one document per call, so the log fills document by document
        let path = folder.appendingPathComponent("zs.jsonl").path
        func run() throws -> ZeroShotTaskResult {
            try ZeroShot.evaluate(.arc_easy, documents: documents, model: loaded.model, tokenizer: loaded.tokenizer, scorer: scorer,
                                  resume: ResumeLog(path: path, key: "k").scope("zs "))
        }
        let full = try run()
        try cut(path, keepingUnits: 4)
        let resumed = try run()
        XCTAssertEqual(Array(resumed.scores.prefix(4)), Array(full.scores.prefix(4)))
        for (a, b) in zip(resumed.scores.joined(), full.scores.joined()) { XCTAssertEqual(a.loglikelihood, b.loglikelihood, accuracy: 1e-4) }
        XCTAssertLessThan(resumed.counts.rows, full.counts.rows, "the logged documents were not scored again")
    }
}
