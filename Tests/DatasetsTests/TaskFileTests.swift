import Datasets
import Foundation
import XCTest

/// The gzip JSON-lines layer of the task files, on small generated files.
final class TaskFileTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("taskfile-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// `text` compressed by the system's gzip, as bytes.
    func gzip(_ text: String) throws -> Data {
        let plain = folder.appendingPathComponent("member-\(UUID().uuidString.prefix(8)).jsonl")
        try Data(text.utf8).write(to: plain)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-f", plain.path]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        return try Data(contentsOf: URL(fileURLWithPath: plain.path + ".gz"))
    }

    func write(_ data: Data, _ name: String = "task.jsonl.gz") throws -> String {
        let url = folder.appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }

    func piqaLine(_ id: Int, goal: String) -> String {
        #"{"doc_id": \#(id), "doc": {"goal": "\#(goal)", "sol1": "a", "sol2": "b", "label": 0}}"# + "\n"
    }

    func expectError(_ path: String, _ fragments: [String], line: UInt = #line) {
        XCTAssertThrowsError(try ZeroShotTask.piqa.load(path: path), line: line) { error in
            XCTAssertTrue(error is TaskFileError, "\(error)", line: line)
            for fragment in [path] + fragments { XCTAssertTrue("\(error)".contains(fragment), "\(error) lacks \(fragment)", line: line) }
        }
    }

    func testConcatenatedGzipFilesAreReadToTheEnd() throws {
        // `cat a.gz b.gz > c.gz`: the documents of both members, in order.
        let first = try gzip(piqaLine(0, goal: "one") + piqaLine(1, goal: "two"))
        let second = try gzip(piqaLine(2, goal: "three"))
        let documents = try ZeroShotTask.piqa.load(path: write(first + second))
        XCTAssertEqual(documents.map(\.id), [0, 1, 2])
        XCTAssertEqual(documents.last?.requests.first?.context, "Question: three\nAnswer:")
    }

    func testBytesAfterTheLastMemberAreAnError() throws {
        let member = try gzip(piqaLine(0, goal: "one"))
        expectError(try write(member + Data("trailing".utf8)), ["bytes after the end of the gzip data", "not another gzip member"])
        // A second member cut short is truncated data, not the end of the file.
        let second = try gzip(piqaLine(1, goal: "two"))
        expectError(try write(member + second.prefix(12)), ["truncated gzip data"])
    }

    func testMalformedLinesNameTheFileAndTheLine() throws {
        let cases: [(String, String)] = [
            ("[1, 2]", "line 2: no `doc_id` or `doc`"),
            (#"{"doc_id": 1.5, "doc": {}}"#, "line 2: no `doc_id` or `doc`"),
            (#"{"doc_id": 1, "doc": {"goal": 3}}"#, "line 2 (doc_id 1): no string field `goal`"),
            ("{\"doc_id\": 1, \"doc\": \"\u{1B}[2J", "line 2: invalid JSON"),
            (String(repeating: "[", count: 100_000), "line 2: invalid JSON at byte 64: arrays and objects nested more than 64 deep"),
        ]
        for (bad, fragment) in cases {
            expectError(try write(gzip(piqaLine(0, goal: "fine") + bad + "\n")), [fragment])
        }
    }

    func testMessagesArePrintableWhateverThePathHolds() throws {
        let path = try write(Data("not gzip".utf8), "task\u{1B}[2J\nname.jsonl.gz")
        XCTAssertThrowsError(try ZeroShotTask.piqa.load(path: path)) { error in
            XCTAssertTrue("\(error)".contains("task\\u{1B}[2J\\u{A}name.jsonl.gz: not a gzip file"), "\(error)")
            XCTAssertFalse("\(error)".unicodeScalars.contains { $0.properties.generalCategory == .control }, "\(error)")
        }
    }
}
