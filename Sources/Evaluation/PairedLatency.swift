import Foundation
import LinAlg
import Transformer

/// A model's speed against a baseline's (the dense model it was pruned from), measured in
/// one process with the same settings, as EVALUATION.md defines a speedup: both are timed
/// in alternation, call by call, the order swapped every round (AB, BA, AB, …), so a
/// machine whose speed drifts (a shared host, a busy memory bus) shifts both alike. The
/// speedup is the median over rounds of baseline time / model time.
public enum PairedLatency {
    public struct Result: Sendable {
        public let baseline: TimingSummary
        public let model: TimingSummary
        /// Baseline / model per round.
        public let ratios: TimingSummary
    }

    /// Prefill of `batch` × `seqlen` random tokens (every logit), as `LatencyBenchmark.prefill`.
    public static func prefill(baseline: TransformerModel, model: TransformerModel, batch: Int, seqlen: Int, warmup: Int, repeats: Int,
                               seed: UInt64 = 0) throws -> Result {
        for m in [baseline, model] { try m.checkContext(seqlen, "the prefill length") }
        let tokens = LatencyBenchmark.randomTokens(batch * seqlen, vocabulary: min(baseline.vocabularySize, model.vocabularySize), seed: seed)
        return try alternate(warmup: warmup, repeats: repeats, baseline: { try LatencyBenchmark.prefillCall(baseline, tokens: tokens, batch: batch) },
                             model: { try LatencyBenchmark.prefillCall(model, tokens: tokens, batch: batch) })
    }

    /// One decode step (a token for each of `batch` sequences, with their logits) at a KV
    /// cache of `context` tokens, as `LatencyBenchmark.decode`; each model's cache is
    /// filled once and rewound before every step.
    public static func decode(baseline: TransformerModel, model: TransformerModel, batch: Int, context: Int, warmup: Int, repeats: Int,
                              seed: UInt64 = 0) throws -> Result {
        let vocabulary = min(baseline.vocabularySize, model.vocabularySize)
        let prompt = LatencyBenchmark.randomTokens(batch * context, vocabulary: vocabulary, seed: seed)
        let step = LatencyBenchmark.randomTokens(batch, vocabulary: vocabulary, seed: seed + 1)
        func stepper(_ m: TransformerModel) throws -> () throws -> Void {
            try m.checkContext(context + 1, "the decode context plus the new token")
            let cache = KVCache(model: m, batch: batch, capacity: context + 1)
            _ = try m.hiddenStates(tokens: prompt, batch: batch, cache: cache)
            return { try LatencyBenchmark.decodeStep(m, cache: cache, context: context, step: step, batch: batch) }
        }
        return try alternate(warmup: warmup, repeats: repeats, baseline: stepper(baseline), model: stepper(model))
    }

    static func alternate(warmup: Int, repeats: Int, baseline: () throws -> Void, model: () throws -> Void) rethrows -> Result {
        precondition(warmup >= 0 && repeats >= 1)
        var baselineSeconds: [Double] = [], modelSeconds: [Double] = []
        for round in 0..<(warmup + repeats) {
            func timed(_ body: () throws -> Void) rethrows -> Double {
                let start = monotonicSeconds()
                try body()
                return monotonicSeconds() - start
            }
            let b: Double, m: Double
            if round % 2 == 0 {
                b = try timed(baseline)
                m = try timed(model)
            } else {
                m = try timed(model)
                b = try timed(baseline)
            }
            if round >= warmup {
                baselineSeconds.append(b)
                modelSeconds.append(m)
            }
        }
        return Result(baseline: TimingSummary(samples: baselineSeconds), model: TimingSummary(samples: modelSeconds),
                      ratios: TimingSummary(samples: zip(baselineSeconds, modelSeconds).map { $0 / $1 }))
    }
}
