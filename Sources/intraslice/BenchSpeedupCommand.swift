import ArgumentParser
import Evaluation
import Foundation
import LinAlg
import Transformer

struct BenchSpeedup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speedup",
        abstract: "A model's speedup over a baseline (the dense model it was pruned from) on one prefill or decode shape, both timed in alternation in one process.",
        discussion: "Rounds alternate the order (baseline then model, model then baseline, …) so drift in the machine's speed shifts both; the speedup is the median over rounds of baseline time / model time."
    )

    @Option(help: "The model timed (e.g. a pruned folder).") var model: String
    @Option(help: "The model it is compared with (e.g. the dense one).") var baseline: String
    @Option(help: "prefill or decode.") var kind: String
    @Option(help: "Sequences per call.") var batch = 1
    @Option(help: "Prefill: tokens per sequence; decode: tokens in the KV cache.") var length: Int
    @Option(help: "Timed rounds (default: 7 for prefill, 40 for decode).") var repeats: Int?
    @Option(help: "Untimed rounds first (default: 1 for prefill, 3 for decode).") var warmup: Int?
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard ["prefill", "decode"].contains(kind) else { throw ValidationError("--kind must be prefill or decode, got '\(kind)'") }
        guard batch >= 1, length >= 1, (repeats ?? 1) >= 1, (warmup ?? 0) >= 0 else {
            throw ValidationError("--batch, --length and --repeats must be at least 1, --warmup at least 0")
        }
    }

    func run() throws {
        let threads = threadOptions.apply()
        let reference = try ModelLoader.load(baseline), timed = try ModelLoader.load(model)
        let prefill = kind == "prefill"
        let repeats = repeats ?? (prefill ? 7 : 40), warmup = warmup ?? (prefill ? 1 : 3)
        let result = prefill
            ? try PairedLatency.prefill(baseline: reference.model, model: timed.model, batch: batch, seqlen: length, warmup: warmup, repeats: repeats)
            : try PairedLatency.decode(baseline: reference.model, model: timed.model, batch: batch, context: length, warmup: warmup, repeats: repeats)
        // Tokens per call: prefill processes batch × length, a decode step batch.
        let tokens = Double(prefill ? batch * length : batch)
        print(String(format: "%@ against %@, %@ %d×%d, %d threads: %.3f× (median of %d alternating rounds, IQR %.3f–%.3f); %.4f s vs %.4f s median per call",
                     timed.name, reference.name, kind, batch, length, threads, result.ratios.median, repeats, result.ratios.q1, result.ratios.q3,
                     result.model.median, result.baseline.median))
        if outputOptions.json {
            JSONOutput.emit([
                "command": "bench speedup", "model": timed.name, "baseline": reference.name, "kind": kind, "batch": batch, "length": length,
                "threads": threads, "repeats": repeats, "warmup": warmup,
                "speedup": result.ratios.median, "speedup_q1": result.ratios.q1, "speedup_q3": result.ratios.q3,
                "seconds_median": result.model.median, "baseline_seconds_median": result.baseline.median,
                "tokens_per_second": tokens / result.model.median, "baseline_tokens_per_second": tokens / result.baseline.median,
                "cpu": cpuModelName(),
            ])
        }
    }
}
