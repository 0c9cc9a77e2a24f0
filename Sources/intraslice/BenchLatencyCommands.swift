import ArgumentParser
import Evaluation
import Foundation
import H5Store
import LinAlg
import Transformer

/// The options of the latency suite, shared by `bench latency` and `eval run --latency`.
struct LatencyOptions: ParsableArguments {
    @Option(help: "Prefill shapes BATCHxSEQLEN, comma-separated.") var prefill = "1x512,4x512"
    @Option(help: "KV-cache lengths for decode, comma-separated.") var decodeContexts = "128,512,2048"
    @Option(help: "Decode batch sizes, comma-separated.") var decodeBatches = "1,4"
    @Option(help: "Untimed warm-up runs of each measurement.") var warmup = 1
    @Option(help: "Timed prefill runs.") var prefillRepeats = 5
    @Option(help: "Timed decode steps.") var decodeRepeats = 20

    func validate() throws { _ = try suite() }

    func suite() throws -> LatencySuite {
        func integers(_ text: String, _ name: String) throws -> [Int] {
            let values = text.split(separator: ",").map { Int($0) }
            guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 }) else {
                throw ValidationError("\(name) must be a comma-separated list of positive integers, got '\(text)'")
            }
            return values.map { $0! }
        }
        var suite = LatencySuite()
        suite.prefillShapes = try prefill.split(separator: ",").map { shape in
            let parts = shape.split(separator: "x").map { Int($0) }
            guard parts.count == 2, let b = parts[0], let l = parts[1], b >= 1, l >= 1 else {
                throw ValidationError("--prefill shapes are BATCHxSEQLEN, got '\(shape)'")
            }
            return (b, l)
        }
        suite.decodeContexts = try integers(decodeContexts, "--decode-contexts")
        suite.decodeBatches = try integers(decodeBatches, "--decode-batches")
        guard warmup >= 0, prefillRepeats >= 1, decodeRepeats >= 1 else {
            throw ValidationError("--warmup must be at least 0, --prefill-repeats and --decode-repeats at least 1")
        }
        suite.warmup = warmup
        suite.prefillRepeats = prefillRepeats
        suite.decodeRepeats = decodeRepeats
        return suite
    }

    static func json(_ result: LatencySuite.Result) -> [String: Any] {
        [
            "threads": result.threads,
            "prefill": result.prefill.map { ["batch": $0.batch, "seqlen": $0.seqlen, "seconds_median": $0.timing.median,
                                             "seconds_q1": $0.timing.q1, "seconds_q3": $0.timing.q3, "tokens_per_second": $0.tokensPerSecond] },
            "decode": result.decode.map { ["batch": $0.batch, "context": $0.context, "ms_per_step_median": $0.millisecondsPerStep,
                                           "ms_per_step_q1": 1000 * $0.timing.q1, "ms_per_step_q3": 1000 * $0.timing.q3] },
            "layer_ms_median": result.layers.map { 1000 * $0.median },
            "layer_timing_shape": "\(result.layerShape.batch)x\(result.layerShape.seqlen)",
        ]
    }
}

struct BenchLatency: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency",
        abstract: "EVALUATION.md's latency suite: prefill tokens/s, decode ms per token at several KV-cache lengths and batch sizes, and each decoder layer's time.",
        discussion: "Medians and interquartile ranges after warm-up. Dense and pruned models run the same code: run both to get a speedup."
    )

    @Option(help: "Model: a registry name, a GGUF path or a pruned-model folder.") var model = "smollm2-135m"
    @OptionGroup var latency: LatencyOptions
    @Option(help: "Store the timings and provenance in this HDF5 file.") var output: String?
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func run() throws {
        try checkOutputFile(output)
        let threads = threadOptions.apply()
        let loaded = try ModelLoader.load(model)
        FileHandle.standardError.write(Data("\(loaded.name): loaded in \(String(format: "%.2f", loaded.loadSeconds)) s; \(threads) threads\n".utf8))
        let result = try latency.suite().run(loaded.model) { print("\(loaded.name) \($0)") }
        let layers = result.layers.map { 1000 * $0.median }
        print(String(format: "%@ decoder layers in %dx%d prefill: %.2f ms median per layer (min %.2f, max %.2f), %d threads", loaded.name,
                     result.layerShape.batch, result.layerShape.seqlen, layers.reduce(0, +) / Double(max(layers.count, 1)),
                     layers.min() ?? 0, layers.max() ?? 0, threads))
        var json = LatencyOptions.json(result)
        json["command"] = "bench latency"
        json["model"] = loaded.name
        if let output {
            try storeResults(at: output, loaded: loaded, modelHash: loaded.checkpointSHA256()) { try LatencySuite.write(result, to: $0) }
            json["output"] = output
        }
        if outputOptions.json { JSONOutput.emit(json) }
    }
}

struct BenchLayer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layer",
        abstract: "One decoder layer of a given shape with random weights, timed alone: prefill and decode at several KV-cache lengths.",
        discussion: """
        The IntraSlice speed test times one Llama-2-13B layer (D 5120, 40 heads of 128, MLP 13824) at batch 4, a 4096-token \
        prefill and 1k–16k KV caches. --scale shrinks the widths (head size kept) for a small machine; the output says so. \
        --heads, --kv-heads, --qk-head-dim, --v-head-dim and --ffn override the shape (e.g. a pruned layer).
        """
    )

    @Option(help: "Width factor applied to the Llama-2-13B layer (1 = full size).") var scale = 0.25
    @Option(help: "Query heads (after scaling).") var heads: Int?
    @Option(help: "Key/value heads (after scaling).") var kvHeads: Int?
    @Option(help: "Query/key head size.") var qkHeadDim: Int?
    @Option(help: "Value head size.") var vHeadDim: Int?
    @Option(help: "MLP width (after scaling).") var ffn: Int?
    @Option(help: "Sequences per call.") var batch = 1
    @Option(help: "Prefill length.") var seqlen = 1024
    @Option(help: "KV-cache lengths for decode, comma-separated.") var contexts = "1024,4096"
    @Option(help: "Untimed warm-up runs.") var warmup = 1
    @Option(help: "Timed prefill runs.") var prefillRepeats = 5
    @Option(help: "Timed decode steps.") var decodeRepeats = 20
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard scale > 0 && scale <= 1 else { throw ValidationError("--scale must be in (0, 1], got \(scale)") }
        guard batch >= 1, seqlen >= 1, warmup >= 0, prefillRepeats >= 1, decodeRepeats >= 1 else {
            throw ValidationError("--batch, --seqlen and the repeats must be at least 1, --warmup at least 0")
        }
        for (name, value) in [("--heads", heads), ("--kv-heads", kvHeads), ("--qk-head-dim", qkHeadDim), ("--v-head-dim", vHeadDim), ("--ffn", ffn)] {
            if let value, value < 1 { throw ValidationError("\(name) must be at least 1, got \(value)") }
        }
        if let q = qkHeadDim, q % 2 != 0 { throw ValidationError("--qk-head-dim must be even (rotary pairs), got \(q)") }
        let shape = self.shape()
        guard shape.heads % shape.kvHeads == 0 else { throw ValidationError("--heads (\(shape.heads)) must be a multiple of --kv-heads (\(shape.kvHeads))") }
        guard !contextList().isEmpty else { throw ValidationError("--contexts must be a comma-separated list of positive integers") }
    }

    func contextList() -> [Int] {
        let values = contexts.split(separator: ",").compactMap { Int($0) }.filter { $0 >= 1 }
        return values.count == contexts.split(separator: ",").count ? values : []
    }

    func shape() -> LayerShape {
        var shape = LayerShape.llama2_13B.scaled(by: scale)
        if let heads { shape.heads = heads }
        if let kvHeads { shape.kvHeads = kvHeads }
        if let qkHeadDim { shape.qkHeadDim = qkHeadDim }
        if let vHeadDim { shape.vHeadDim = vHeadDim }
        if let ffn { shape.ffn = ffn }
        return shape
    }

    func run() throws {
        let threads = threadOptions.apply()
        let shape = self.shape()
        let model = shape.model()
        let scaledNote = scale == 1 ? "the full Llama-2-13B layer" : String(format: "Llama-2-13B layer scaled by %.3g (head size kept)", scale)
        print("layer: \(shape.description), \(shape.parameterCount) parameters; \(scaledNote)")
        let prefill = try LatencyBenchmark.prefill(model, batch: batch, seqlen: seqlen, warmup: warmup, repeats: prefillRepeats)
        print(String(format: "prefill %d×%d: %.2f ms median (IQR %.2f–%.2f), %.0f tokens/s, %d threads", batch, seqlen,
                     1000 * prefill.median, 1000 * prefill.q1, 1000 * prefill.q3, Double(batch * seqlen) / prefill.median, threads))
        let decode = try LatencyBenchmark.decode(model, batch: batch, contexts: contextList(), warmup: warmup, repeats: decodeRepeats)
        for (context, timing) in zip(contextList(), decode) {
            print(String(format: "decode batch %d at context %d: %.3f ms per step (IQR %.3f–%.3f)", batch, context,
                         1000 * timing.median, 1000 * timing.q1, 1000 * timing.q3))
        }
        if outputOptions.json {
            JSONOutput.emit([
                "command": "bench layer", "hidden": shape.hidden, "heads": shape.heads, "kv_heads": shape.kvHeads,
                "qk_head_dim": shape.qkHeadDim, "v_head_dim": shape.vHeadDim, "ffn": shape.ffn, "parameters": shape.parameterCount,
                "scale": scale, "scaled_from": "llama2-13b", "batch": batch, "seqlen": seqlen, "threads": threads,
                "prefill_ms_median": 1000 * prefill.median, "prefill_ms_q1": 1000 * prefill.q1, "prefill_ms_q3": 1000 * prefill.q3,
                "decode": zip(contextList(), decode).map { ["context": $0, "ms_median": 1000 * $1.median, "ms_q1": 1000 * $1.q1, "ms_q3": 1000 * $1.q3] },
            ])
        }
    }
}
