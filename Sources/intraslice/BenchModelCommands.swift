import ArgumentParser
import Evaluation
import Foundation
import H5Store
import LinAlg
import Transformer

struct BenchPrefill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefill",
        abstract: "Prefill throughput (hidden states and every logit) of batch × seqlen random tokens, as a fraction of the sgemm ceiling measured in the same run."
    )

    @Option(help: "Model: registry name or GGUF path.") var model = "smollm2-135m"
    @Option(help: "Sequences per forward call.") var batch = 1
    @Option(help: "Tokens per sequence.") var seqlen = 2048
    @Option(help: "Timed repetitions.") var repeats = 5
    @Option(help: "Untimed warm-up runs.") var warmup = 1
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard batch >= 1, seqlen >= 1, repeats >= 1, warmup >= 0 else {
            throw ValidationError("--batch, --seqlen and --repeats must be at least 1, --warmup at least 0")
        }
    }

    func run() throws {
        let threads = threadOptions.apply()
        let loaded = try ModelLoader.load(model)
        let ceiling = benchmarkSgemm(size: 2048, warmup: 2, repeats: 10)
        let cpuBefore = processCPUSeconds()
        let timing = try LatencyBenchmark.prefill(loaded.model, batch: batch, seqlen: seqlen, warmup: warmup, repeats: repeats)
        let cpuAfter = processCPUSeconds()
        let user = cpuAfter.user - cpuBefore.user, system = cpuAfter.system - cpuBefore.system
        let systemFraction = user + system > 0 ? system / (user + system) : 0
        let flops = ForwardCost.prefillFLOPs(loaded.model, batch: batch, seqlen: seqlen)
        let gflops = flops / timing.median / 1e9
        let fraction = gflops / ceiling.gflopsMedian
        let tokensPerSecond = Double(batch * seqlen) / timing.median
        print(String(format: "%@ prefill %d×%d, %d threads: %.3f s median (IQR %.3f–%.3f), %.0f tokens/s, %.1f GFLOP/s = %.1f%% of the sgemm ceiling (%.1f GFLOP/s); system time %.1f%% of CPU time; load %.2f s",
                     loaded.name, batch, seqlen, threads, timing.median, timing.q1, timing.q3, tokensPerSecond, gflops,
                     100 * fraction, ceiling.gflopsMedian, 100 * systemFraction, loaded.loadSeconds))
        if outputOptions.json {
            JSONOutput.emit([
                "command": "bench prefill", "model": loaded.name, "batch": batch, "seqlen": seqlen, "threads": threads,
                "seconds_median": timing.median, "seconds_q1": timing.q1, "seconds_q3": timing.q3, "repeats": repeats,
                "warmup": warmup, "tokens_per_second": tokensPerSecond, "gflop": flops / 1e9, "gflops": gflops,
                "gemm_ceiling_gflops": ceiling.gflopsMedian, "fraction_of_ceiling": fraction, "load_seconds": loaded.loadSeconds,
                "cpu_user_seconds": user, "cpu_system_seconds": system, "system_time_fraction": systemFraction,
                "cpu": cpuModelName(), "blas_core": BLASThreads.coreName,
            ])
        }
    }
}

struct BenchGradients: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradients",
        abstract: "The reverse-mode pass of the global allocation (mask gradients of one sequence) against one dense forward pass on the same tokens, timed in alternation."
    )

    @Option(help: "Model: registry name or GGUF path.") var model = "smollm2-135m"
    @Option(help: "Tokens of the sequence.") var seqlen = 2048
    @Option(help: "Timed rounds (one forward and one gradient pass each).") var repeats = 3
    @Option(help: "Untimed warm-up rounds.") var warmup = 1
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard seqlen >= 2, repeats >= 1, warmup >= 0 else { throw ValidationError("--seqlen must be at least 2, --repeats at least 1, --warmup at least 0") }
    }

    func run() throws {
        let threads = threadOptions.apply()
        let loaded = try ModelLoader.load(model)
        let cpuBefore = processCPUSeconds()
        let timing = try LatencyBenchmark.gradientPass(loaded.model, seqlen: seqlen, warmup: warmup, repeats: repeats)
        let cpuAfter = processCPUSeconds()
        let user = cpuAfter.user - cpuBefore.user, system = cpuAfter.system - cpuBefore.system
        let ratio = TimingSummary(samples: timing.ratios).median
        print(String(format: "%@ 1×%d, %d threads: gradient pass %.3f s, forward %.3f s (medians); gradient / forward %.2f (per round: %@)",
                     loaded.name, seqlen, threads, timing.gradients.median, timing.forward.median, ratio,
                     timing.ratios.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
        if outputOptions.json {
            JSONOutput.emit([
                "command": "bench gradients", "model": loaded.name, "seqlen": seqlen, "threads": threads, "repeats": repeats, "warmup": warmup,
                "gradient_seconds_median": timing.gradients.median, "forward_seconds_median": timing.forward.median,
                "ratio_median": ratio, "ratios": timing.ratios, "cpu_user_seconds": user, "cpu_system_seconds": system,
                "cpu": cpuModelName(), "blas_core": BLASThreads.coreName,
            ] as [String: Any])
        }
    }
}

struct BenchDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Milliseconds per decoded token with a KV cache already holding --context tokens."
    )

    @Option(help: "Model: registry name or GGUF path.") var model = "smollm2-135m"
    @Option(help: "Tokens already in the KV cache.") var context = 512
    @Option(help: "Sequences decoded together.") var batch = 1
    @Option(help: "Timed decode steps.") var repeats = 20
    @Option(help: "Untimed warm-up steps.") var warmup = 3
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard batch >= 1, context >= 1, repeats >= 1, warmup >= 0 else {
            throw ValidationError("--batch, --context and --repeats must be at least 1, --warmup at least 0")
        }
    }

    func run() throws {
        let threads = threadOptions.apply()
        let loaded = try ModelLoader.load(model)
        let timing = try LatencyBenchmark.decode(loaded.model, batch: batch, contexts: [context], warmup: warmup, repeats: repeats)[0]
        print(String(format: "%@ decode at context %d, batch %d, %d threads: %.2f ms per step median (IQR %.2f–%.2f), %.1f tokens/s",
                     loaded.name, context, batch, threads, 1000 * timing.median, 1000 * timing.q1, 1000 * timing.q3,
                     Double(batch) / timing.median))
        if outputOptions.json {
            JSONOutput.emit([
                "command": "bench decode", "model": loaded.name, "context": context, "batch": batch, "threads": threads,
                "ms_per_step_median": 1000 * timing.median, "ms_per_step_q1": 1000 * timing.q1, "ms_per_step_q3": 1000 * timing.q3,
                "tokens_per_second": Double(batch) / timing.median, "repeats": repeats, "warmup": warmup,
            ])
        }
    }
}
