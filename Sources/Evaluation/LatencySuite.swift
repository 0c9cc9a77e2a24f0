import Foundation
import H5Store
import LinAlg
import Transformer

/// `EVALUATION.md`'s latency protocol for one model: prefill tokens/s, decode ms per token
/// at several KV-cache lengths and batch sizes, and each decoder layer's time, each with
/// warm-up, repeats, median and interquartile range. Dense and pruned models run the same
/// code, so their ratio measured in one process is the speedup.
public struct LatencySuite: Sendable {
    public var prefillShapes: [(batch: Int, seqlen: Int)] = [(1, 512), (4, 512)]
    public var decodeContexts = [128, 512, 2048]
    public var decodeBatches = [1, 4]
    public var warmup = 1
    public var prefillRepeats = 5
    public var decodeRepeats = 20

    public init() {}

    public struct Prefill: Sendable {
        public let batch: Int, seqlen: Int
        public let timing: TimingSummary
        public var tokensPerSecond: Double { Double(batch * seqlen) / timing.median }
    }

    public struct Decode: Sendable {
        public let batch: Int, context: Int
        public let timing: TimingSummary
        /// Milliseconds per decode step (one new token for each sequence of the batch).
        public var millisecondsPerStep: Double { 1000 * timing.median }
    }

    public struct Result: Sendable {
        public let prefill: [Prefill]
        public let decode: [Decode]
        /// Per decoder layer, its time inside the first prefill shape's runs.
        public let layers: [TimingSummary]
        public let layerShape: (batch: Int, seqlen: Int)
        public let threads: Int
    }

    public func run(_ model: TransformerModel, report: (String) -> Void = { _ in }) throws -> Result {
        var prefill: [Prefill] = []
        let clock = LayerClock(layers: model.layers.count)
        for (index, shape) in prefillShapes.enumerated() {
            let timing = try LatencyBenchmark.prefill(model, batch: shape.batch, seqlen: shape.seqlen, warmup: warmup, repeats: prefillRepeats,
                                                      observer: index == 0 ? clock : nil)
            prefill.append(Prefill(batch: shape.batch, seqlen: shape.seqlen, timing: timing))
            report(String(format: "prefill %d×%d: %.3f s median (IQR %.3f–%.3f), %.0f tokens/s", shape.batch, shape.seqlen,
                          timing.median, timing.q1, timing.q3, prefill.last!.tokensPerSecond))
        }
        // The clock also timed the warm-up runs: keep the timed repeats only.
        let layers = clock.seconds.map { TimingSummary(samples: Array($0.suffix(prefillRepeats))) }
        var decode: [Decode] = []
        for batch in decodeBatches {
            let timings = try LatencyBenchmark.decode(model, batch: batch, contexts: decodeContexts, warmup: warmup, repeats: decodeRepeats)
            for (context, timing) in zip(decodeContexts, timings) {
                decode.append(Decode(batch: batch, context: context, timing: timing))
                report(String(format: "decode batch %d at context %d: %.2f ms per step (IQR %.2f–%.2f)", batch, context,
                              1000 * timing.median, 1000 * timing.q1, 1000 * timing.q3))
            }
        }
        return Result(prefill: prefill, decode: decode, layers: layers, layerShape: prefillShapes.first ?? (0, 0), threads: BLASThreads.count)
    }

    /// Writes the result under `group`: one sub-group per measurement with its samples.
    public static func write(_ result: Result, to writer: H5Writer, group: String = "/latency") throws {
        func store(_ timing: TimingSummary, _ path: String, _ extra: [String: H5AttributeValue]) throws {
            try writer.write(timing.samples, shape: [timing.samples.count], to: path + "/seconds")
            try writer.setAttributes(extra.merging([
                "median": .double(timing.median), "q1": .double(timing.q1), "q3": .double(timing.q3),
                "repeats": .int(Int64(timing.samples.count)),
            ]) { a, _ in a }, on: path)
        }
        for p in result.prefill {
            try store(p.timing, "\(group)/prefill_b\(p.batch)_l\(p.seqlen)", [
                "batch": .int(Int64(p.batch)), "seqlen": .int(Int64(p.seqlen)), "tokens_per_second": .double(p.tokensPerSecond),
            ])
        }
        for d in result.decode {
            try store(d.timing, "\(group)/decode_b\(d.batch)_c\(d.context)", [
                "batch": .int(Int64(d.batch)), "context": .int(Int64(d.context)), "ms_per_step": .double(d.millisecondsPerStep),
            ])
        }
        try writer.write(result.layers.map(\.median), shape: [result.layers.count], to: "\(group)/layer_seconds_median")
        try writer.write(result.layers.map(\.q1), shape: [result.layers.count], to: "\(group)/layer_seconds_q1")
        try writer.write(result.layers.map(\.q3), shape: [result.layers.count], to: "\(group)/layer_seconds_q3")
        try writer.setAttributes([
            "threads": .int(Int64(result.threads)), "layer_timing_batch": .int(Int64(result.layerShape.batch)),
            "layer_timing_seqlen": .int(Int64(result.layerShape.seqlen)),
            "protocol": .string("EVALUATION.md latency: warm-up then timed repeats, median and interquartile range; prefill includes every logit; a decode step is one new token per sequence with its logits, the KV cache rewound to the context before each step; layer times are taken inside the first prefill shape's timed runs"),
        ], on: group)
    }
}
