import ArgumentParser
import Datasets
import Evaluation
import Foundation
import H5Store
import LinAlg
import ModelIO
import Pruning
import Transformer

struct Activations: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activations",
        abstract: "Statistics of a model's activations at every layer's capture sites over windows of a text; with --reference, its drift from the dense model.",
        discussion: "One layer-major pass over the first --windows windows of --seqlen tokens; nothing but the statistics is kept. See the README's \"Activation statistics\" for the HDF5 schema."
    )

    @Option(help: "Model: a registry name, a GGUF path or a checkpoint folder (pruned or dense).") var model = "smollm2-135m"
    @Option(help: "The dense model to compare with, run beside it on the same tokens.") var reference: String?
    @Option(help: "Text: wikitext2, wiki, c4, another registry text, or a file path.") var data = "wikitext2"
    @Option(help: "Window length in tokens.") var seqlen = 512
    @Option(help: "Windows, from the start of the text.") var windows = 32
    @Option(help: "Windows per forward call.") var batch = 1
    @Option(help: "Sites, comma-separated: \(ActivationSite.allCases.map(\.rawValue).joined(separator: ", ")) (default: all).") var sites = "all"
    @Option(help: "Keep the rows of this many tokens, chosen at random (--seed), at every site.") var keepTokens = 0
    @Option(help: "Seed of the kept tokens.") var seed: UInt64 = 0
    @Option(help: "Top channels (by largest magnitude) listed per site.") var topChannels = 16
    @Option(help: "Outliers lie further than this many standard deviations from their token's mean.") var outlierSigma = 6.0
    @Flag(help: "Also store each site's second-moment matrix (float64, width² values: ~1 GB for SmolLM2-135M).") var covariances = false
    @Option(help: "The statistics file (HDF5).") var output: String
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var memoryOptions: MemoryOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard seqlen >= 2 && seqlen <= 131_072 else { throw ValidationError("--seqlen must be between 2 and 131072, got \(seqlen)") }
        guard windows >= 1 else { throw ValidationError("--windows must be at least 1, got \(windows)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard keepTokens >= 0 else { throw ValidationError("--keep-tokens must be at least 0, got \(keepTokens)") }
        guard topChannels >= 1 else { throw ValidationError("--top-channels must be at least 1, got \(topChannels)") }
        guard outlierSigma > 0 && outlierSigma.isFinite else { throw ValidationError("--outlier-sigma must be positive, got \(outlierSigma)") }
        _ = try chosenSites()
    }

    func chosenSites() throws -> [ActivationSite] {
        do { return try ActivationSite.list(sites) } catch { throw ValidationError("--sites: \(error)") }
    }

    func run() throws {
        try checkOutputFile(output)
        let threads = threadOptions.apply()
        let sites = try chosenSites()
        let copies = reference == nil ? 1 : 2
        let (loaded, _) = try memoryOptions.load(model) { memory($0, threads: threads, models: copies) }
        let dense = try reference.map { name in try memoryOptions.load(name) { memory($0, threads: threads, models: copies) }.0 }
        let corpus = try TextCorpus.load(data)
        let ids = loaded.tokenizer.encode(corpus.bytes, addSpecialTokens: true)
        if let dense, dense.tokenizer.encode(corpus.bytes, addSpecialTokens: true) != ids {
            throw CommandError("\(dense.path): its tokenizer splits \(corpus.name) differently from \(loaded.path)'s; a reference must share the model's tokens")
        }
        let available = Perplexity.windowCount(tokenCount: ids.count, seqlen: seqlen)
        guard windows <= available else {
            throw CommandError("\(corpus.name) has \(ids.count) tokens: \(available) windows of \(seqlen), fewer than the \(windows) asked for")
        }
        let tokens = windows * seqlen
        guard keepTokens <= tokens else { throw ValidationError("--keep-tokens \(keepTokens) is more than the run's \(tokens) tokens") }
        var settings = ActivationRun.Settings()
        settings.sites = sites
        settings.outlierSigma = outlierSigma
        settings.topChannels = topChannels
        settings.keepCovariance = covariances
        var generator = SeededGenerator(seed: seed)
        settings.sampleTokens = Array((0..<tokens).shuffled(using: &generator).prefix(keepTokens)).sorted()

        let subject = ActivationRun.Subject(model: loaded.model, layers: loaded.layers, streamMap: try ResidualStreamMap.read(modelFolder: loaded.path))
        if let map = subject.streamMap, map.bases.count != loaded.layers.layerCount {
            throw CommandError("\(loaded.path)/statistics.h5: holds the bases of \(map.bases.count) layers, the model has \(loaded.layers.layerCount)")
        }
        if let dense, subject.streamMap == nil, loaded.model.embeddingWidth != dense.model.embeddingWidth {
            throw CommandError("\(loaded.path): its residual stream is \(loaded.model.embeddingWidth) wide against the reference's \(dense.model.embeddingWidth), and it holds no rotations to map it back")
        }
        let calls = ActivationRun.calls(ids, windows: windows, sequenceLength: seqlen, batch: batch)
        FileHandle.standardError.write(Data("\(loaded.name): \(corpus.name), \(windows) windows of \(seqlen) (\(tokens) tokens), \(sites.count) sites\(dense.map { "; reference \($0.name)" } ?? ""); \(threads) threads\n".utf8))
        let progress = ProgressLine("activations", total: loaded.layers.layerCount, unit: "layer")
        let dataHash = SHA256.hex(of: Data(corpus.bytes))
        var summary: ActivationRun.Summary?
        var provenance: [String: H5AttributeValue] = ["data": .string(corpus.name), "data_sha256": .string(dataHash), "seqlen": .int(Int64(seqlen)),
                                                      "windows": .int(Int64(windows)), "batch": .int(Int64(batch)), "seed": .int(Int64(seed))]
        if let dense {
            provenance["reference"] = .string(dense.name)
            provenance["reference_path"] = .string(dense.path)
            provenance["reference_sha256"] = .string(try dense.checkpointSHA256())
        }
        try storeResults(at: output, loaded: loaded, modelHash: try loaded.checkpointSHA256(), provenance: provenance) { writer in
            summary = try ActivationRun(subject: subject, reference: dense.map { ActivationRun.Subject(model: $0.model, layers: $0.layers) }, settings: settings)
                .run(calls: calls, sequenceLength: seqlen, writer: writer) { progress.update(done: $0, rateUnits: $0) }
        }
        guard let summary else { return }
        var line = "activations: \(tokens) tokens, \(loaded.layers.layerCount) layers in \(String(format: "%.1f", summary.seconds)) s"
        var json: [String: Any] = ["command": "activations", "model": loaded.name, "output": output, "tokens": tokens, "sites": sites.map(\.rawValue),
                                   "layers": loaded.layers.layerCount, "seconds": summary.seconds, "threads": threads]
        if let kl = summary.nextTokenKL {
            let meanKL = kl.reduce(0, +) / Double(max(1, kl.count))
            let last = summary.drift.last!.residual
            line += String(format: "; against the reference: last layer's residual relative error %.4f, cosine %.4f; next-token KL %.4f nats",
                           last.relativeError, last.meanCosine, meanKL)
            json["reference"] = dense?.name
            json["mean_next_token_kl"] = meanKL
            json["residual_relative_error"] = summary.drift.map(\.residual.relativeError)
            json["residual_cosine"] = summary.drift.map(\.residual.meanCosine)
        }
        print(line + "; written to \(output)")
        if outputOptions.json { JSONOutput.emit(json) }
    }

    /// The statistics of one layer (second moments of every site, float64 and their float32
    /// blocks), the layer-major states (each call's stream before and after a layer, the
    /// middle stream kept), a forward call's scratch and, with a reference, the logits of a
    /// block of rows; `models` is 2 with a reference.
    func memory(_ config: ModelConfig, threads: Int, models: Int) -> RunMemory {
        let d = config.hiddenSize, f = config.intermediateSize
        let headSize = config.headDim ?? d / config.numAttentionHeads
        let q = config.numAttentionHeads * headSize, k = config.numKeyValueHeads * headSize
        let widths = [d, d, d, d, q, f, q, k]
        let statistics = widths.reduce(0) { $0 + 12 * $1 * $1 + 8 * 8 * $1 } + 4 * keepTokens * widths.reduce(0, +)
        let states = 4 * 4 * windows * seqlen * d
        let working = models * (statistics + states) + RunMemory.forwardBytes(config, rows: batch * seqlen, keys: seqlen, threads: threads)
            + 2 * 4 * 64 * config.vocabSize
        return RunMemory(footprint: ModelFootprint(config: config), workingBytes: working)
    }
}
