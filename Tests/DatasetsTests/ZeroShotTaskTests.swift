import Datasets
import Foundation
import ModelIO
import XCTest

/// Templates of EVALUATION.md on fixed documents, and the task files themselves.
final class ZeroShotTaskTests: XCTestCase {
    func document(_ task: ZeroShotTask, _ json: String) throws -> TaskDocument {
        try task.document(from: JSONValue.parse(Array(json.utf8)), id: 7)
    }

    func testTemplatesProduceTheExactStrings() throws {
        let piqa = try document(.piqa, #"{"goal": "Open a jar", "sol1": "twist the lid", "sol2": "eat the lid", "label": 0, "query": "Goal: ignored"}"#)
        XCTAssertEqual(piqa.requests, [ContinuationRequest(context: "Question: Open a jar\nAnswer:", continuation: " twist the lid"),
                                       ContinuationRequest(context: "Question: Open a jar\nAnswer:", continuation: " eat the lid")])
        XCTAssertEqual(piqa.gold, 0)

        let hellaswag = try document(.hellaswag, #"{"query": "Roofing: A man is on a roof. He", "choices": ["falls.", "sings."], "gold": 1}"#)
        XCTAssertEqual(hellaswag.requests.map(\.context), ["Roofing: A man is on a roof. He", "Roofing: A man is on a roof. He"])
        XCTAssertEqual(hellaswag.requests.map(\.continuation), [" falls.", " sings."])
        XCTAssertEqual(hellaswag.gold, 1)

        for task in [ZeroShotTask.arc_easy, .arc_challenge] {
            let arc = try document(task, #"{"query": "Question: Which is a gas?\nAnswer:", "choices": ["air", "rock", "wood"], "gold": 0}"#)
            XCTAssertEqual(arc.requests.map(\.context), Array(repeating: "Question: Which is a gas?\nAnswer:", count: 3))
            XCTAssertEqual(arc.requests.map(\.continuation), [" air", " rock", " wood"])
        }

        let boolq = try document(.boolq, #"{"query": "Ethanol -- It burns.\nQuestion: does ethanol burn?\nAnswer:", "choices": ["yes", "no"], "gold": 0}"#)
        XCTAssertEqual(boolq.requests, [ContinuationRequest(context: "Ethanol -- It burns.\nQuestion: does ethanol burn?\nAnswer:", continuation: " yes"),
                                        ContinuationRequest(context: "Ethanol -- It burns.\nQuestion: does ethanol burn?\nAnswer:", continuation: " no")])

        // OpenBookQA: the bare question stem, without the file's "Question: …\nAnswer:" wrapper.
        let obqa = try document(.openbookqa, #"{"query": "Question: The sun is a\nAnswer:", "choices": ["star", "planet"], "gold": 0}"#)
        XCTAssertEqual(obqa.requests.map(\.context), ["The sun is a", "The sun is a"])
        XCTAssertEqual(obqa.requests.map(\.continuation), [" star", " planet"])

        // WinoGrande: partial scoring, the option closes the context, the rest is shared.
        let wino = try document(.winogrande, #"{"sentence": "Sarah was a better surgeon than Maria so _ got the easier cases. ", "option1": "Sarah", "option2": "Maria", "answer": "2"}"#)
        XCTAssertEqual(wino.requests, [ContinuationRequest(context: "Sarah was a better surgeon than Maria so Sarah", continuation: " got the easier cases."),
                                       ContinuationRequest(context: "Sarah was a better surgeon than Maria so Maria", continuation: " got the easier cases.")])
        XCTAssertEqual(wino.gold, 1)

        let lambada = try document(.lambada, #"{"id": 0, "query": "I don't care about", "answers_text": ["signs"], "choices": ["signs"]}"#)
        XCTAssertEqual(lambada.requests, [ContinuationRequest(context: "I don't care about", continuation: " signs")])
    }

    func testChoiceLengthsCountUnicodeScalarsNotBytes() throws {
        // "café" is 5 UTF-8 bytes, 4 scalars; "日本" 6 bytes, 2 scalars.
        let doc = try document(.arc_easy, #"{"query": "Q", "choices": ["café", "日本", "tea"], "gold": 2}"#)
        XCTAssertEqual(doc.choiceLengths, [4, 2, 3])
    }

    func testBadDocumentsAreErrors() {
        XCTAssertThrowsError(try document(.piqa, #"{"goal": "x", "sol1": "a", "label": 0}"#))
        XCTAssertThrowsError(try document(.arc_easy, #"{"query": "Q", "choices": ["a"], "gold": 3}"#))
        XCTAssertThrowsError(try document(.winogrande, #"{"sentence": "no blank", "option1": "a", "option2": "b", "answer": "1"}"#))
        XCTAssertThrowsError(try document(.openbookqa, #"{"query": "not wrapped", "choices": ["a"], "gold": 0}"#))
        XCTAssertThrowsError(try ZeroShotTask.parseList("piqa,nonsense")) { error in
            XCTAssertTrue("\(error)".contains("nonsense"), "\(error)")
        }
    }

    /// The real files: documents deduplicated in file order, counts as ASSETS.md lists them.
    func testTaskFilesHoldTheListedDocuments() throws {
        let expected: [ZeroShotTask: Int] = [.piqa: 1838, .winogrande: 1267, .arc_easy: 2376, .arc_challenge: 1172, .boolq: 3270,
                                             .openbookqa: 500, .lambada: 5153, .hellaswag: 10042]
        for (task, count) in expected.sorted(by: { $0.value < $1.value }) {
            guard AssetRegistry.asset(named: task.rawValue, kind: .task)?.isPresent == true else {
                throw XCTSkip("\(task.rawValue) not cached; run Scripts/fetch-assets.sh")
            }
            let documents = try task.load()
            XCTAssertEqual(documents.count, count, task.rawValue)
            XCTAssertEqual(Set(documents.map(\.id)).count, count, task.rawValue)
            XCTAssertEqual(try task.load(limit: 3).map(\.id), Array(documents.prefix(3).map(\.id)), task.rawValue)
        }
        let first = try ZeroShotTask.piqa.load(limit: 1)[0]
        XCTAssertEqual(first.requests[0].context, "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:")
        XCTAssertTrue(first.requests[0].continuation.hasPrefix(" Provide the guinea pig with a cage full of a few inches of bedding made of ripped paper strips"))
    }

    func testCorruptOrMissingTaskFilesNameTheFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zeroshot-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func expectError(_ path: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try ZeroShotTask.piqa.load(path: path), file: file, line: line) { error in
                XCTAssertTrue("\(error)".contains(path) && "\(error)".contains(fragment), "\(error)", file: file, line: line)
            }
        }
        expectError(folder.appendingPathComponent("absent.jsonl.gz").path, "cannot open")
        let plain = folder.appendingPathComponent("plain.jsonl.gz")
        try Data("{\"doc_id\": 0}\n".utf8).write(to: plain)
        expectError(plain.path, "not a gzip file")

        guard let real = AssetRegistry.asset(named: "piqa", kind: .task), real.isPresent else { throw XCTSkip("piqa not cached") }
        let bytes = try Data(contentsOf: real.url)
        let truncated = folder.appendingPathComponent("truncated.jsonl.gz")
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        expectError(truncated.path, "truncated gzip data")
        var flipped = bytes
        for i in stride(from: 100, to: 400, by: 7) { flipped[i] ^= 0x5a }
        let corrupt = folder.appendingPathComponent("corrupt.jsonl.gz")
        try flipped.write(to: corrupt)
        expectError(corrupt.path, "gzip data")

        // Valid gzip around a bad JSON line (made with the system's gzip).
        let badJSON = folder.appendingPathComponent("bad.jsonl")
        try Data("{\"doc_id\": 0, \"doc\": {\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\", \"label\": 0}}\n{\"doc_id\": 1, \"doc\": {\n".utf8).write(to: badJSON)
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gzip.arguments = ["-f", badJSON.path]
        try gzip.run()
        gzip.waitUntilExit()
        expectError(badJSON.path + ".gz", "line 2")
    }
}
