import Foundation
import LinAlg
import Transformer

/// Floating-point operations of a forward pass, for quoting speed as a fraction of the
/// sgemm ceiling: 2 × (decoder-layer + head parameters) per token for the matrix
/// products, plus attention (Q·Kᵀ and P·V over the causal half of each sequence).
public enum ForwardCost {
    public static func prefillFLOPs(_ model: TransformerModel, batch: Int, seqlen: Int) -> Double {
        let tokens = Double(batch * seqlen)
        // Causal: query t sees t + 1 keys, Σ ≈ L(L+1)/2 pairs per head.
        let pairs = Double(seqlen) * Double(seqlen + 1) / 2
        let attention = model.layers.reduce(0.0) { total, layer in
            let a = layer.attention
            let visible = a.slidingWindow.map { w in Double(min(w, seqlen)) * Double(seqlen) - Double(min(w, seqlen)) * Double(min(w, seqlen) - 1) / 2 } ?? pairs
            return total + visible * attentionFLOPsPerPair(a)
        }
        return 2 * (decoderWeights(model) + Double(model.head.elements.count)) * tokens + Double(batch) * attention
    }

    /// Continuation scoring: every packed row through the decoder layers, only the scored
    /// rows through the LM head, and the unmasked query–key pairs of attention.
    public static func scoringFLOPs(_ model: TransformerModel, counts: ContinuationScorer.Counts) -> Double {
        let perPair = model.layers.reduce(0.0) { $0 + attentionFLOPsPerPair($1.attention) }
        return 2 * decoderWeights(model) * Double(counts.rows) + 2 * Double(model.head.elements.count) * Double(counts.scoredRows)
            + counts.attentionPairs * perPair
    }

    static func decoderWeights(_ model: TransformerModel) -> Double {
        model.layers.reduce(0.0) { total, layer in
            total + Double(layer.attention.wqkv.elements.count + layer.attention.wo.elements.count + layer.mlp.parameterCount)
        }
    }

    /// Q·Kᵀ and P·V of every head of a layer for one query–key pair.
    static func attentionFLOPsPerPair(_ a: Attention) -> Double { Double(a.numHeads) * 2 * Double(a.qkHeadDim + a.vHeadDim) }
}

/// Timings of prefill (all logits, as perplexity needs them) and of KV-cache decoding.
public enum LatencyBenchmark {
    static func randomTokens(_ count: Int, vocabulary: Int, seed: UInt64) -> [Int32] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Int32.random(in: 0..<Int32(vocabulary), using: &rng) }
    }

    /// Seconds per prefill of `batch` × `seqlen` random tokens (hidden states and every logit).
    public static func prefill(_ model: TransformerModel, batch: Int, seqlen: Int, warmup: Int, repeats: Int, seed: UInt64 = 0,
                               observer: ActivationObserver? = nil) throws -> TimingSummary {
        try model.checkContext(seqlen, "the prefill length")
        let tokens = randomTokens(batch * seqlen, vocabulary: model.vocabularySize, seed: seed)
        return try measure(warmup: warmup, repeats: repeats) { try prefillCall(model, tokens: tokens, batch: batch, observer: observer) }
    }

    /// One timed prefill: hidden states, then every logit block by block, as evaluation
    /// forms them, so memory stays bounded.
    static func prefillCall(_ model: TransformerModel, tokens: [Int32], batch: Int, observer: ActivationObserver? = nil) throws {
        let hidden = try model.hiddenStates(tokens: tokens, batch: batch, observer: observer)
        var row = 0
        while row < hidden.rows {
            _ = model.logits(hidden, rows: row..<min(hidden.rows, row + 256))
            row += 256
        }
    }

    /// One timed decode step: the cache rewound to `context`, then `step` (a token per
    /// sequence) through the model with its logits.
    static func decodeStep(_ model: TransformerModel, cache: KVCache, context: Int, step: [Int32], batch: Int) throws {
        cache.truncate(to: context)
        let hidden = try model.hiddenStates(tokens: step, batch: batch, cache: cache)
        _ = model.logits(hidden, rows: 0..<batch)
    }

    /// The reverse-mode pass (`maskGradients`) against one forward pass (prefill, every
    /// logit) on the same `seqlen` random tokens, timed in alternation after `warmup`
    /// rounds of each, so that a machine's speed drifting between them does not enter the
    /// ratio; `ratios` are gradient / forward per round.
    public static func gradientPass(_ model: TransformerModel, seqlen: Int, warmup: Int, repeats: Int,
                                    seed: UInt64 = 0) throws -> (forward: TimingSummary, gradients: TimingSummary, ratios: [Double]) {
        try model.checkContext(seqlen, "the sequence length")
        let tokens = randomTokens(seqlen, vocabulary: model.vocabularySize, seed: seed)
        var forwardSeconds: [Double] = [], gradientSeconds: [Double] = []
        for round in 0..<(warmup + repeats) {
            var start = monotonicSeconds()
            try prefillCall(model, tokens: tokens, batch: 1)
            let f = monotonicSeconds() - start
            start = monotonicSeconds()
            _ = try model.maskGradients(tokens: tokens)
            let g = monotonicSeconds() - start
            if round >= warmup {
                forwardSeconds.append(f)
                gradientSeconds.append(g)
            }
        }
        return (TimingSummary(samples: forwardSeconds), TimingSummary(samples: gradientSeconds),
                zip(gradientSeconds, forwardSeconds).map { $0 / $1 })
    }

    /// Seconds per decoded token step (one token for each of `batch` sequences, with their
    /// logits) after each of `contexts` tokens are in the KV cache. One prefill fills the
    /// cache to the longest context; every timed step rewinds it to the context measured,
    /// longest first (a rewound cache cannot grow back without recomputing).
    public static func decode(_ model: TransformerModel, batch: Int, contexts: [Int], warmup: Int, repeats: Int,
                              seed: UInt64 = 0) throws -> [TimingSummary] {
        let longest = contexts.max() ?? 0
        try model.checkContext(longest + 1, "the longest decode context plus the new token")
        let cache = KVCache(model: model, batch: batch, capacity: longest + 1)
        let prompt = randomTokens(batch * longest, vocabulary: model.vocabularySize, seed: seed)
        _ = try model.hiddenStates(tokens: prompt, batch: batch, cache: cache)
        let step = randomTokens(batch, vocabulary: model.vocabularySize, seed: seed + 1)
        var timings: [Int: TimingSummary] = [:]
        for context in Set(contexts).sorted(by: >) {
            timings[context] = try measure(warmup: warmup, repeats: repeats) {
                try decodeStep(model, cache: cache, context: context, step: step, batch: batch)
            }
        }
        return contexts.map { timings[$0]! }
    }
}

/// Wall time of each decoder layer inside real forward calls: from the layer's input
/// reaching its attention norm to its output leaving it.
public final class LayerClock: ActivationObserver {
    private var started: [Double]
    public private(set) var seconds: [[Double]]

    public init(layers: Int) {
        started = Array(repeating: 0, count: layers)
        seconds = Array(repeating: [], count: layers)
    }

    public func wants(layer: Int, site: CaptureSite) -> Bool { site == .residualIn || site == .residualOut }

    public func observe(layer: Int, site: CaptureSite, activations: UnsafeBufferPointer<Float>, rows: Int, width: Int) throws {
        if site == .residualIn { started[layer] = monotonicSeconds() } else { seconds[layer].append(monotonicSeconds() - started[layer]) }
    }

    public func reset() { seconds = Array(repeating: [], count: seconds.count) }
}
