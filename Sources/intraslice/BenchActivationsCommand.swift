import ArgumentParser
import Datasets
import Evaluation
import Foundation
import LinAlg
import Transformer

struct BenchActivations: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activations",
        abstract: "The activation statistics run (every chosen site, spectra included) against a plain forward pass over the same windows, timed in alternation."
    )

    @Option(help: "Model: registry name, GGUF path or checkpoint folder.") var model = "smollm2-135m"
    @Option(help: "Text: wikitext2, wiki, c4, another registry text, or a file path.") var data = "wikitext2"
    @Option(help: "Window length in tokens.") var seqlen = 512
    @Option(help: "Windows, from the start of the text.") var windows = 32
    @Option(help: "Windows per forward call.") var batch = 1
    @Option(help: "Sites, comma-separated (default: all).") var sites = "all"
    @Option(help: "Timed rounds (one forward pass and one activation run each).") var repeats = 3
    @Option(help: "Untimed warm-up rounds.") var warmup = 1
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard seqlen >= 2, windows >= 1, batch >= 1, repeats >= 1, warmup >= 0 else {
            throw ValidationError("--seqlen must be at least 2, --windows, --batch and --repeats at least 1, --warmup at least 0")
        }
    }

    func run() throws {
        let threads = threadOptions.apply()
        var settings = ActivationRun.Settings()
        do { settings.sites = try ActivationSite.list(sites) } catch { throw ValidationError("--sites: \(error)") }
        let loaded = try ModelLoader.load(model)
        let corpus = try TextCorpus.load(data)
        let ids = loaded.tokenizer.encode(corpus.bytes, addSpecialTokens: true)
        guard windows * seqlen <= ids.count else { throw CommandError("\(corpus.name) has \(ids.count) tokens, fewer than \(windows) windows of \(seqlen)") }
        let calls = ActivationRun.calls(ids, windows: windows, sequenceLength: seqlen, batch: batch)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("intraslice-bench-activations-\(getpid()).h5")
        let cpuBefore = processCPUSeconds()
        let timing = try ActivationBenchmark.run(model: loaded.model, calls: calls, sequenceLength: seqlen, settings: settings, scratch: scratch,
                                                 warmup: warmup, repeats: repeats)
        let cpuAfter = processCPUSeconds()
        let costs = timing.ratios.samples.map { 1 / $0 }
        let cost = TimingSummary(samples: costs).median
        print(String(format: "%@ %d × %d, %d sites, %d threads: activation run %.2f s, forward %.2f s (medians); run / forward %.2f (per round: %@)",
                     loaded.name, windows, seqlen, settings.sites.count, threads, timing.model.median, timing.baseline.median, cost,
                     costs.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
        if outputOptions.json {
            JSONOutput.emit([
                "command": "bench activations", "model": loaded.name, "windows": windows, "seqlen": seqlen, "batch": batch,
                "sites": settings.sites.map(\.rawValue), "threads": threads, "repeats": repeats, "warmup": warmup,
                "activations_seconds_median": timing.model.median, "forward_seconds_median": timing.baseline.median,
                "cost_ratio_median": cost, "cost_ratios": costs, "cpu_user_seconds": cpuAfter.user - cpuBefore.user,
                "cpu_system_seconds": cpuAfter.system - cpuBefore.system, "cpu": cpuModelName(), "blas_core": BLASThreads.coreName,
            ] as [String: Any])
        }
    }
}
