import Foundation
import LinAlg
import Transformer

/// Perplexity as `EVALUATION.md` defines it: the token ids of a whole text are cut into
/// non-overlapping windows of `seqlen` from the start (the tail is dropped); each window
/// is evaluated alone and predicts its tokens 2…L; ppl = exp(mean NLL over all of them).
public struct PerplexityResult: Sendable {
    public let seqlen: Int
    public let windows: Int
    /// Every window's NLL summed over its L − 1 predicted tokens.
    public let windowNLLSums: [Double]
    /// Seconds of this run, and the windows it computed (the others came from a resume log).
    public let seconds: Double
    public let computedWindows: Int

    public var predictedTokens: Int { windows * (seqlen - 1) }
    public var meanNLL: Double { windowNLLSums.reduce(0, +) / Double(predictedTokens) }
    public var perplexity: Double { exp(meanNLL) }
    /// Tokens run through the model per second (all L of each window computed in this run).
    public var tokensPerSecond: Double { Double(computedWindows * seqlen) / seconds }
}

public struct PerplexityError: Error, CustomStringConvertible {
    public let description: String
}

public enum Perplexity {
    /// Windows available in `tokenCount` ids at length `seqlen`.
    public static func windowCount(tokenCount: Int, seqlen: Int) -> Int { tokenCount / seqlen }

    /// Evaluates the first `windows` windows (all when nil), `batch` windows per forward call.
    /// With a resume log, windows it holds are taken from it and each new one is logged.
    /// A streamed model (`streamed` holds its layers) runs layer by layer over as many
    /// windows at once as `streamedStateBytes` holds, with the same per-call shapes as a
    /// resident run, so both give the same bits.
    public static func evaluate(model: TransformerModel, ids: [Int32], seqlen: Int, windows: Int? = nil, batch: Int = 1,
                                progress: ProgressLine? = nil, resume: ResumeScope? = nil,
                                streamed: LayerSource? = nil, streamedStateBytes: Int = 1 << 30) throws -> PerplexityResult {
        guard seqlen >= 2 else { throw PerplexityError(description: "seqlen must be at least 2, got \(seqlen)") }
        try model.checkContext(seqlen, "the window length")
        let available = windowCount(tokenCount: ids.count, seqlen: seqlen)
        let count = windows ?? available
        guard count >= 1, count <= available else {
            throw PerplexityError(description: "\(ids.count) tokens hold \(available) windows of \(seqlen); asked for \(count)")
        }
        let start = monotonicSeconds()
        var sums = (0..<count).map { resume?.values(of: "window \($0)")?.first }
        let pending = (0..<count).filter { sums[$0] == nil }
        // Calls of `batch` windows; a streamed model takes several calls per pass over its layers.
        let calls = stride(from: 0, to: pending.count, by: batch).map { Array(pending[$0..<min(pending.count, $0 + batch)]) }
        let callsPerPass = streamed == nil ? 1 : callsPerStreamedPass(stateBytes: streamedStateBytes, batch: batch, seqlen: seqlen,
                                                                       width: model.widestResidual)
        var done = 0
        for passStart in stride(from: 0, to: calls.count, by: callsPerPass) {
            let pass = Array(calls[passStart..<min(calls.count, passStart + callsPerPass)])
            let tokens = pass.map { chosen in chosen.flatMap { ids[($0 * seqlen)..<(($0 + 1) * seqlen)] } }
            let hidden = try streamed.map { try model.hiddenStates(calls: tokens, sequenceLength: seqlen, layers: $0) }
                ?? [try model.hiddenStates(tokens: tokens[0], batch: pass[0].count)]
            for (chosen, (callTokens, callHidden)) in zip(pass, zip(tokens, hidden)) {
                try score(model: model, hidden: callHidden, tokens: callTokens, windows: chosen, seqlen: seqlen, sums: &sums, resume: resume)
                done += chosen.count
                progress?.update(done: count - pending.count + done, rateUnits: done * seqlen)
            }
        }
        return PerplexityResult(seqlen: seqlen, windows: count, windowNLLSums: sums.map { $0! }, seconds: monotonicSeconds() - start,
                                computedWindows: pending.count)
    }

    /// Calls a streamed run takes through each pass over the layers: as many as keep their
    /// layer-major states (input and output of a layer, `width` values a row) in `stateBytes`.
    static func callsPerStreamedPass(stateBytes: Int, batch: Int, seqlen: Int, width: Int) -> Int {
        max(1, stateBytes / (2 * 4 * batch * seqlen * width))
    }

    /// Each window's NLL sum from the hidden states of one call, recorded in `sums` and the log.
    private static func score(model: TransformerModel, hidden: Matrix<Float>, tokens: [Int32], windows chosen: [Int], seqlen: Int,
                              sums: inout [Double?], resume: ResumeScope?) throws {
        // Row t of a window predicts token t + 1; the window's last row predicts nothing.
        var targets = [Int32](repeating: -1, count: tokens.count)
        for w in chosen.indices { for t in 0..<(seqlen - 1) { targets[w * seqlen + t] = tokens[w * seqlen + t + 1] } }
        let nll = model.negativeLogLikelihoods(hidden: hidden, targets: targets)
        for (w, window) in chosen.enumerated() {
            let sum = nll[(w * seqlen)..<((w + 1) * seqlen)].reduce(0, +)
            guard sum.isFinite else {
                throw PerplexityError(description: "window \(window): the negative log-likelihood is \(sum) (the model's logits overflow); no perplexity")
            }
            sums[window] = sum
            try resume?.record("window \(window)", [sum])
        }
    }
}

extension Perplexity {
    /// The work of evaluating `windows` windows of `seqlen`, `batch` per call, on a model
    /// with `config` whose weight files hold `checkpointBytes`, for `intraslice plan`:
    /// hashing the checkpoint, reading it (streamed: the check at open, then once per pass
    /// over the layers, as `evaluate` splits the calls by `streamedStateBytes`), the forward
    /// passes with every row's logits, and the log-softmax over them.
    public static func work(_ config: ModelConfig, windows: Int, seqlen: Int, batch: Int, checkpointBytes: Int, streamed: Bool,
                            streamedStateBytes: Int) -> RunWork {
        var work = RunWork()
        work.hashedBytes = Double(checkpointBytes)
        let calls = (windows + batch - 1) / batch
        let callsPerPass = callsPerStreamedPass(stateBytes: streamedStateBytes, batch: batch, seqlen: seqlen, width: config.hiddenSize)
        let passes = streamed ? (calls + callsPerPass - 1) / callsPerPass : 0
        work.loadedBytes = Double(checkpointBytes) * Double(1 + passes)
        work.forwardFlops = ForwardWork(config: config).prefillFlops(sequences: windows, seqlen: seqlen)
        work.freshBytes = 4 * Double(windows * seqlen) * Double(config.vocabSize)
        return work
    }
}
