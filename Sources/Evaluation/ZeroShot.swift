import Datasets
import Foundation
import H5Store
import LinAlg
import ModelIO
import Transformer

/// One task's zero-shot result with every document's scores, so that two runs can be
/// compared document by document.
public struct ZeroShotTaskResult: Sendable {
    public let task: ZeroShotTask
    public let documents: [TaskDocument]
    /// Per document, per request.
    public let scores: [[ContinuationScore]]
    /// Seconds and work of this run: the documents it scored, not those taken from a resume log.
    public let seconds: Double
    public let counts: ContinuationScorer.Counts
    /// Documents whose scores came from a resume log of an interrupted run.
    public let resumedDocuments: Int

    public init(task: ZeroShotTask, documents: [TaskDocument], scores: [[ContinuationScore]], seconds: Double,
                counts: ContinuationScorer.Counts, resumedDocuments: Int = 0) {
        self.task = task
        self.documents = documents
        self.scores = scores
        self.seconds = seconds
        self.counts = counts
        self.resumedDocuments = resumedDocuments
    }

    /// The documents this run scored itself; the throughput figures are over these.
    public var computedDocuments: Int { documents.count - resumedDocuments }

    /// argmax of the loglikelihoods (the first on ties).
    public var predictions: [Int] { scores.map { firstArgmax($0.map(\.loglikelihood)) } }
    /// argmax of loglikelihood ÷ choice length in Unicode scalars.
    public var normalizedPredictions: [Int] {
        zip(scores, documents).map { scores, document in
            firstArgmax(zip(scores, document.choiceLengths).map { $0.loglikelihood / Double(max($1, 1)) })
        }
    }

    public var accuracy: Double { fraction(zip(predictions, documents).map { $0 == $1.gold }) }
    public var normalizedAccuracy: Double { fraction(zip(normalizedPredictions, documents).map { $0 == $1.gold }) }
    /// lambada: the last word comes out of greedy decoding exactly.
    public var greedyAccuracy: Double { fraction(scores.map { $0[0].isGreedy }) }
    /// lambada: exp(−mean over documents of the last word's loglikelihood), as lm-eval aggregates it.
    public var perplexity: Double { exp(-scores.map { $0[0].loglikelihood }.reduce(0, +) / Double(scores.count)) }

    /// The metric the papers report for this task, as a fraction.
    public var reported: Double {
        switch task.reportedMetric {
        case .acc: return accuracy
        case .accNorm: return normalizedAccuracy
        case .greedyMatch: return greedyAccuracy
        }
    }

    /// sqrt(p(1 − p)/(n − 1)), the standard error of an accuracy over n documents.
    public func standardError(_ p: Double) -> Double {
        documents.count > 1 ? (p * (1 - p) / Double(documents.count - 1)).squareRoot() : .nan
    }

    public var documentsPerSecond: Double { Double(computedDocuments) / seconds }
    public var rowsPerSecond: Double { Double(counts.rows) / seconds }

    private func fraction(_ hits: [Bool]) -> Double { Double(hits.filter { $0 }.count) / Double(max(hits.count, 1)) }
}

func firstArgmax(_ values: [Double]) -> Int {
    var best = 0
    for i in values.indices where values[i] > values[best] { best = i }
    return best
}

public enum ZeroShot {
    /// Encodes and scores the documents of one task (from `ZeroShotTask.load`).
    /// With a resume log, documents it holds are not scored again and each newly scored one is logged.
    public static func evaluate(_ task: ZeroShotTask, documents: [TaskDocument], model: TransformerModel, tokenizer: Tokenizer,
                                scorer: ContinuationScorer, progress: ProgressLine? = nil, resume: ResumeScope? = nil) throws -> ZeroShotTaskResult {
        let maxLength = model.config.maxPositionEmbeddings
        let start = monotonicSeconds()
        let encoded = documents.map { $0.requests.map { EncodedRequest($0, tokenizer: tokenizer, maxLength: maxLength) } }
        var finished: [Int: [ContinuationScore]] = [:]
        for d in documents.indices {
            // Three values per request: loglikelihood, token count, greedy (1/0).
            guard let values = resume?.values(of: "\(task.rawValue) \(d)"), values.count == 3 * documents[d].requests.count else { continue }
            finished[d] = stride(from: 0, to: values.count, by: 3).map {
                ContinuationScore(loglikelihood: values[$0], tokenCount: Int(values[$0 + 1]), isGreedy: values[$0 + 2] != 0)
            }
        }
        var counts = ContinuationScorer.Counts()
        let scores = try scorer.score(encoded, counts: &counts, finished: finished, onFinished: { d, scores in
            try resume?.record("\(task.rawValue) \(d)", scores.flatMap { [$0.loglikelihood, Double($0.tokenCount), $0.isGreedy ? 1 : 0] })
        }, progress: { done in
            progress?.update(done: done, rateUnits: done)
        })
        return ZeroShotTaskResult(task: task, documents: documents, scores: scores, seconds: monotonicSeconds() - start, counts: counts,
                                  resumedDocuments: finished.count)
    }

    /// Mean of the reported metrics over `tasks`, when every one of them was evaluated.
    public static func average(_ results: [ZeroShotTaskResult], over tasks: [ZeroShotTask]) -> Double? {
        let byTask = Dictionary(results.map { ($0.task, $0.reported) }, uniquingKeysWith: { a, _ in a })
        let values = tasks.compactMap { byTask[$0] }
        return values.count == tasks.count ? values.reduce(0, +) / Double(values.count) : nil
    }

    /// Writes every task under `/zeroshot/<task>`: per document its `doc_id`, gold,
    /// predictions and the offsets of its choices into the per-choice arrays.
    public static func write(_ results: [ZeroShotTaskResult], to writer: H5Writer, flopsCeiling: Double? = nil) throws {
        for result in results {
            let group = "/zeroshot/\(result.task.rawValue)"
            let flat = result.scores.flatMap { $0 }
            var offsets: [Int64] = [0]
            for scores in result.scores { offsets.append(offsets.last! + Int64(scores.count)) }
            try writer.write(result.documents.map { Int64($0.id) }, shape: [result.documents.count], to: group + "/doc_id")
            try writer.write(result.documents.map { Int64($0.gold) }, shape: [result.documents.count], to: group + "/gold")
            try writer.write(result.predictions.map(Int64.init), shape: [result.documents.count], to: group + "/prediction")
            try writer.write(result.normalizedPredictions.map(Int64.init), shape: [result.documents.count], to: group + "/prediction_norm")
            try writer.write(offsets, shape: [offsets.count], to: group + "/choice_offsets")
            try writer.write(flat.map(\.loglikelihood), shape: [flat.count], to: group + "/loglikelihood")
            try writer.write(flat.map { Int64($0.tokenCount) }, shape: [flat.count], to: group + "/token_count")
            try writer.write(flat.map { UInt8($0.isGreedy ? 1 : 0) }, shape: [flat.count], to: group + "/is_greedy")
            try writer.write(result.documents.flatMap { $0.choiceLengths.map(Int64.init) }, shape: [flat.count], to: group + "/char_length")
            var attributes: [String: H5AttributeValue] = [
                "documents": .int(Int64(result.documents.count)), "metric": .string(result.task.reportedMetric.rawValue),
                "reported": .double(result.reported), "reported_stderr": .double(result.standardError(result.reported)),
                "seconds": .double(result.seconds), "rows": .int(Int64(result.counts.rows)),
                "scored_rows": .int(Int64(result.counts.scoredRows)), "forward_calls": .int(Int64(result.counts.forwardCalls)),
                "rows_per_second": .double(result.rowsPerSecond), "documents_per_second": .double(result.documentsPerSecond),
                "documents_resumed": .int(Int64(result.resumedDocuments)),
            ]
            if result.task != .lambada {
                attributes["acc"] = .double(result.accuracy)
                attributes["acc_stderr"] = .double(result.standardError(result.accuracy))
            }
            if result.task != .winogrande && result.task != .lambada {
                attributes["acc_norm"] = .double(result.normalizedAccuracy)
                attributes["acc_norm_stderr"] = .double(result.standardError(result.normalizedAccuracy))
            }
            if result.task == .lambada {
                attributes["greedy_acc"] = .double(result.greedyAccuracy)
                attributes["ppl"] = .double(result.perplexity)
            }
            try writer.setAttributes(attributes, on: group)
        }
        var summary: [String: H5AttributeValue] = [
            "protocol": .string("EVALUATION.md zero-shot: lm-evaluation-harness templates and continuation split, acc = argmax loglikelihood, acc_norm = argmax loglikelihood / choice length in Unicode scalars, stderr = sqrt(p(1-p)/(n-1))"),
        ]
        if let average = average(results, over: ZeroShotTask.sliceGPTAverage) { summary["average_slicegpt_5"] = .double(average) }
        if let average = average(results, over: ZeroShotTask.intraSliceAverage) { summary["average_intraslice_7"] = .double(average) }
        if !results.isEmpty { try writer.setAttributes(summary, on: "/zeroshot") }
    }
}
