import Datasets
import Foundation
import LinAlg
import ModelIO
import Transformer

/// A request as token ids: the sequence the model reads and where its continuation starts.
public struct EncodedRequest: Sendable, Equatable {
    /// Context ids followed by continuation ids.
    public let tokens: [Int32]
    /// Index in `tokens` of the first continuation id (always ≥ 1).
    public let continuationStart: Int

    public var continuation: ArraySlice<Int32> { tokens[continuationStart...] }

    /// lm-evaluation-harness's split: whitespace that ends the context moves to the front of
    /// the continuation; the continuation ids are what `encode(context + continuation)` has
    /// after as many ids as `encode(context)` has. The tokenizer's default BOS (Gemma) goes
    /// first; an empty context is replaced by BOS, else EOS, so the first id has a
    /// predecessor. Sequences longer than `maxLength + 1` lose their oldest ids.
    public init(_ request: ContinuationRequest, tokenizer: Tokenizer, maxLength: Int? = nil) {
        var context = Substring(request.context)
        var continuation = request.continuation
        while let last = context.unicodeScalars.last, last.properties.isWhitespace {
            context = Substring(context.unicodeScalars.dropLast())
            continuation = String(last) + continuation
        }
        let prefix: [Int32] = tokenizer.addsBOS ? [tokenizer.bos!] : []
        var contextIDs = tokenizer.encode(String(context), addSpecialTokens: false)
        let continuationIDs: ArraySlice<Int32>
        if contextIDs.isEmpty && prefix.isEmpty {
            contextIDs = [tokenizer.bos ?? tokenizer.eos ?? 0]
            continuationIDs = tokenizer.encode(continuation, addSpecialTokens: false)[...]
        } else {
            continuationIDs = tokenizer.encode(String(context) + continuation, addSpecialTokens: false).dropFirst(contextIDs.count)
        }
        var tokens = prefix + contextIDs + continuationIDs
        var start = prefix.count + contextIDs.count
        if let maxLength, tokens.count > maxLength + 1 {
            let dropped = tokens.count - (maxLength + 1)
            tokens.removeFirst(dropped)
            start = max(1, start - dropped)
        }
        self.tokens = tokens
        continuationStart = start
    }
}

/// A continuation whose loglikelihood came out NaN or infinite: the model's logits
/// overflowed, and no accuracy computed from it would mean anything.
public struct NonFiniteScore: Error, CustomStringConvertible {
    public let document: Int
    public let request: Int
    public var description: String {
        "document \(document), choice \(request): the loglikelihood is not finite (the model's logits overflow)"
    }
}

/// The loglikelihood of one continuation and whether greedy decoding reproduces it.
public struct ContinuationScore: Sendable, Equatable {
    public let loglikelihood: Double
    public let tokenCount: Int
    public let isGreedy: Bool

    public init(loglikelihood: Double, tokenCount: Int, isGreedy: Bool) {
        self.loglikelihood = loglikelihood
        self.tokenCount = tokenCount
        self.isGreedy = isGreedy
    }
}

/// Scores the requests of many documents.
///
/// With `sharePrefix`, the requests of one document become one trunk (their longest common
/// prefix of ids, e.g. the question) and one branch per request, so the shared context is
/// computed once; without it, every request re-reads its whole context (the naive way,
/// kept to measure the difference and to check that both agree). Documents are packed into
/// forward calls of about `rowsPerCall` rows, so the matrix products stay large however
/// short the documents are (packing needs no padding, so documents of any lengths go
/// together). Logits are formed only at the rows that predict a continuation id.
public struct ContinuationScorer {
    public let model: TransformerModel
    public var rowsPerCall = 2048
    public var sharePrefix = true

    public init(model: TransformerModel) {
        self.model = model
    }

    /// Work done, for throughput figures.
    public struct Counts: Sendable {
        /// Rows run through the decoder layers.
        public var rows = 0
        /// Rows that went through the LM head.
        public var scoredRows = 0
        /// Query–key pairs of attention that are not masked.
        public var attentionPairs = 0.0
        public var forwardCalls = 0

        public init() {}

        public mutating func add(_ other: Counts) {
            rows += other.rows
            scoredRows += other.scoredRows
            attentionPairs += other.attentionPairs
            forwardCalls += other.forwardCalls
        }
    }

    /// One packed document: which requests of which input document it scores.
    private struct Unit {
        let document: Int
        let requests: [Int]
        let packed: PackedSequences.Document
    }

    /// Scores, per document, each of its requests. Documents in `finished` (from a resume
    /// log) are taken as they are; `onFinished` hears every other document once all its
    /// requests are scored, and `progress` the number of documents done after each call.
    public func score(_ documents: [[EncodedRequest]], counts: inout Counts, finished: [Int: [ContinuationScore]] = [:],
                      onFinished: (Int, [ContinuationScore]) throws -> Void = { _, _ in },
                      progress: (Int) -> Void = { _ in }) throws -> [[ContinuationScore]] {
        var results = documents.map { [ContinuationScore?](repeating: nil, count: $0.count) }
        var units: [Unit] = []
        for (d, requests) in documents.enumerated() {
            if let scores = finished[d], scores.count == requests.count {
                results[d] = scores
                continue
            }
            if sharePrefix {
                units.append(Unit(document: d, requests: Array(requests.indices), packed: Self.tree(requests)))
            } else {
                for (r, request) in requests.enumerated() {
                    units.append(Unit(document: d, requests: [r], packed: Self.tree([request])))
                }
            }
        }
        var next = 0
        while next < units.count {
            var end = next, rows = 0
            while end < units.count {
                let unitRows = units[end].packed.trunk.count + units[end].packed.branches.reduce(0) { $0 + $1.count }
                if end > next && rows + unitRows > rowsPerCall { break }
                rows += unitRows
                end += 1
            }
            let batch = Array(units[next..<end])
            try score(batch, documents: documents, into: &results, counts: &counts)
            for d in Set(batch.map(\.document)).sorted() where results[d].allSatisfy({ $0 != nil }) {
                try onFinished(d, results[d].map { $0! })
            }
            next = end
            progress(results.filter { $0.allSatisfy { $0 != nil } }.count)
        }
        return results.map { $0.map { $0! } }
    }

    private func score(_ units: [Unit], documents: [[EncodedRequest]], into results: inout [[ContinuationScore?]],
                       counts: inout Counts) throws {
        let packed = PackedSequences(units.map(\.packed))
        let hidden = try model.hiddenStates(packed: packed)
        var rows: [Int] = [], targets: [Int32] = []
        for (u, unit) in units.enumerated() {
            for (branch, r) in unit.requests.enumerated() {
                let request = documents[unit.document][r]
                for j in request.continuationStart..<request.tokens.count {
                    rows.append(packed.row(document: u, branch: branch, tokenIndex: j - 1))
                    targets.append(request.tokens[j])
                }
            }
        }
        let scores = model.scoreTokens(hidden: hidden, rows: rows, targets: targets)
        var at = 0
        for unit in units {
            for r in unit.requests {
                let n = documents[unit.document][r].continuation.count
                let slice = scores[at..<(at + n)]
                let loglikelihood = -slice.reduce(0) { $0 + $1.nll }
                guard loglikelihood.isFinite else { throw NonFiniteScore(document: unit.document, request: r) }
                results[unit.document][r] = ContinuationScore(loglikelihood: loglikelihood, tokenCount: n,
                                                              isGreedy: slice.allSatisfy(\.isArgmax))
                at += n
            }
            let trunk = Double(unit.packed.trunk.count)
            counts.attentionPairs += trunk * (trunk + 1) / 2
            for branch in unit.packed.branches {
                let b = Double(branch.count)
                counts.attentionPairs += b * trunk + b * (b + 1) / 2
            }
        }
        counts.rows += packed.rowCount
        counts.scoredRows += rows.count
        counts.forwardCalls += 1
    }

    /// The requests of one document as a trunk and branches. Each request's last id is
    /// never read (it predicts nothing), so the model reads `tokens.dropLast()`.
    static func tree(_ requests: [EncodedRequest]) -> PackedSequences.Document {
        let inputs = requests.map { $0.tokens.dropLast() }
        var shared = inputs[0].count
        for input in inputs.dropFirst() {
            shared = min(shared, zip(inputs[0], input).prefix { $0 == $1 }.count)
        }
        return PackedSequences.Document(trunk: Array(inputs[0].prefix(shared)), branches: inputs.map { Array($0.dropFirst(shared)) })
    }
}
