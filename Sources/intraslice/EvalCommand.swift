import ArgumentParser
import Datasets
import Evaluation
import Foundation
import H5Store
import LinAlg
import ModelIO
import Pruning
import Transformer

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model (dense GGUF or pruned folder).",
        subcommands: [EvalPerplexity.self, EvalZeroShot.self, EvalRun.self]
    )
}

struct EvalPerplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ppl",
        abstract: "Perplexity on a text: whole file tokenized once, non-overlapping windows of --seqlen, ppl = exp(mean NLL).",
        discussion: "Each window is evaluated alone and predicts its tokens 2…L; the tail shorter than L is dropped."
    )

    @OptionGroup var arguments: EvalPerplexityArguments

    func run() throws { try arguments.run() }
}

/// `eval ppl`'s arguments and what it does with them, shared with `plan eval ppl` (which
/// takes the same arguments).
struct EvalPerplexityArguments: ParsableArguments {
    @Option(help: "Model: a registry name (smollm2-135m, gemma3-270m, qwen2.5-0.5b) or a GGUF path.") var model = "smollm2-135m"
    @Option(help: "Text: wikitext2, wiki, c4, another registry text, or a file path.") var data = "wikitext2"
    @OptionGroup var perplexity: PerplexityOptions
    @Option(help: "Store the result and its provenance in this HDF5 file.") var output: String?
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var memoryOptions: MemoryOptions
    @OptionGroup var outputOptions: OutputOptions

    func run() throws {
        try checkOutputFile(output, resumable: true)
        let threads = threadOptions.apply()
        let (loaded, choice) = try memoryOptions.load(model) { perplexity.memory($0, threads: threads) }
        let modelHash = try loaded.checkpointSHA256()
        let resume = try output.map { try ResumeLog(path: resumeLogPath($0), key: "eval ppl \(modelHash) \(data) \(perplexity.key)") }
        let run = try perplexity.evaluate(data, loaded: loaded, threads: threads, resume: resume?.scope(""), streamedStateBytes: choice.spareBytes)
        var json = run.json
        json["command"] = "eval ppl"
        json["model"] = loaded.name
        json["model_sha256"] = modelHash
        if let output {
            try storeResults(at: output, loaded: loaded, modelHash: modelHash, provenance: run.provenance, run.write)
            resume?.remove()
            json["output"] = output
        }
        if outputOptions.json { JSONOutput.emit(json) }
    }
}

/// Writes one results file atomically: the provenance record (with the model's name, path
/// and hash added to `provenance`), then whatever `write` stores.
func storeResults(at path: String, loaded: LoadedModel, modelHash: String, provenance: [String: H5AttributeValue] = [:],
                  _ write: (H5Writer) throws -> Void) throws {
    let writer = try H5Writer(path: path)
    var model: [String: H5AttributeValue] = ["model": .string(loaded.name), "model_path": .string(loaded.path), "model_sha256": .string(modelHash)]
    if let record = try PruningRecord.read(modelPath: loaded.path) { model.merge(record.provenance) { _, new in new } }
    try Provenance(extra: provenance.merging(model) { _, new in new }).write(to: writer)
    try write(writer)
    try writer.commit()
}

/// The options of a perplexity evaluation, shared by `eval ppl` and `eval run`.
struct PerplexityOptions: ParsableArguments {
    @Option(help: "Window length L in tokens.") var seqlen = 2048
    @Option(help: "Evaluate only the first N windows (default: all).") var windows: Int?
    @Option(help: "Windows per forward call.") var batch = 1

    func validate() throws {
        guard seqlen >= 2 && seqlen <= 131_072 else { throw ValidationError("--seqlen must be between 2 and 131072, got \(seqlen)") }
        if let windows, windows < 1 { throw ValidationError("--windows must be at least 1, got \(windows)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    }

    /// A finished perplexity run: what to print, store and record.
    struct Run {
        let json: [String: Any]
        let provenance: [String: H5AttributeValue]
        let write: (H5Writer) throws -> Void
    }

    /// The settings that decide the numbers, for resume-log keys.
    var key: String { "seqlen=\(seqlen) windows=\(windows.map(String.init) ?? "all")" }

    /// Activations of one forward call of `batch` windows, its final hidden states and the
    /// text's token ids (a streamed run adds the layer-major states of the budget left).
    func workingBytes(_ config: ModelConfig, threads: Int) -> Int {
        RunMemory.forwardBytes(config, rows: batch * seqlen, keys: seqlen, threads: threads) + 4 * batch * seqlen * config.hiddenSize
    }

    /// The memory an evaluation plans (shared with `plan eval ppl`).
    func memory(_ config: ModelConfig, threads: Int) -> RunMemory {
        RunMemory(footprint: ModelFootprint(config: config), workingBytes: workingBytes(config, threads: threads))
    }

    /// Evaluates `data`; a streamed model keeps up to `streamedStateBytes` of layer-major
    /// activations (see `Perplexity.evaluate`).
    func evaluate(_ data: String, loaded: LoadedModel, threads: Int, resume: ResumeScope? = nil, streamedStateBytes: Int = 0) throws -> Run {
        let corpus = try TextCorpus.load(data)
        let ids = loaded.tokenizer.encode(corpus.bytes, addSpecialTokens: true)
        let available = Perplexity.windowCount(tokenCount: ids.count, seqlen: seqlen)
        let count = windows ?? available
        guard count <= available else {
            throw CommandError("\(corpus.name) has \(ids.count) tokens: \(available) windows of \(seqlen), fewer than the \(count) asked for")
        }
        FileHandle.standardError.write(Data("\(loaded.name): loaded in \(String(format: "%.1f", loaded.loadSeconds)) s; \(corpus.name): \(ids.count) tokens, \(count) of \(available) windows of \(seqlen); \(threads) threads\n".utf8))
        let dataHash = SHA256.hex(of: Data(corpus.bytes))
        let result = try Perplexity.evaluate(model: loaded.model, ids: ids, seqlen: seqlen, windows: count, batch: batch,
                                             progress: ProgressLine("ppl \(corpus.name) L=\(seqlen)", total: count, unit: "tok"),
                                             resume: resume?.input(sha256: dataHash), streamed: loaded.streamedLayers,
                                             streamedStateBytes: streamedStateBytes)
        if result.computedWindows < count {
            FileHandle.standardError.write(Data("ppl \(corpus.name): \(count - result.computedWindows) windows taken from the resume log\n".utf8))
        }
        print(String(format: "%@ on %@ (L=%d, %d windows, %d predicted tokens): ppl %.4f (mean NLL %.5f), %.0f tokens/s, %d threads",
                     loaded.name, corpus.name, seqlen, count, result.predictedTokens, result.perplexity, result.meanNLL,
                     result.tokensPerSecond, threads))
        let json: [String: Any] = [
            "data": corpus.name, "seqlen": seqlen, "windows": count, "windows_available": available, "tokens": ids.count,
            "predicted_tokens": result.predictedTokens, "ppl": result.perplexity, "mean_nll": result.meanNLL, "seconds": result.seconds,
            "tokens_per_second": result.tokensPerSecond, "threads": threads, "windows_resumed": count - result.computedWindows,
            "residency": loaded.streamedLayers == nil ? "resident" : "streamed", "peak_rss_bytes": peakResidentBytes(),
        ]
        let provenance: [String: H5AttributeValue] = [
            "data": .string(corpus.name), "data_path": .string(corpus.source.path), "data_sha256": .string(dataHash),
        ]
        return Run(json: json, provenance: provenance) { writer in
            let group = "/perplexity/\(corpus.name)"
            try writer.write(result.windowNLLSums, shape: [count], to: group + "/window_nll_sums")
            try writer.setAttributes([
                "seqlen": .int(Int64(seqlen)), "windows": .int(Int64(count)), "windows_available": .int(Int64(available)),
                "tokens": .int(Int64(ids.count)), "predicted_tokens": .int(Int64(result.predictedTokens)),
                "ppl": .double(result.perplexity), "mean_nll": .double(result.meanNLL), "seconds": .double(result.seconds),
                "tokens_per_second": .double(result.tokensPerSecond), "threads": .int(Int64(threads)),
                "windows_resumed": .int(Int64(count - result.computedWindows)),
                "data_sha256": provenance["data_sha256"]!,
                "protocol": .string("whole file tokenized once with the tokenizer's default special tokens; non-overlapping windows from the start, tail dropped; each window predicts tokens 2..L"),
            ], on: group)
        }
    }
}

struct EvalRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Several evaluations of one model in one run, stored in one HDF5 file with one provenance record.",
        discussion: "Example: intraslice eval run --ppl wikitext2,c4 --zeroshot all --latency --output run.h5"
    )

    @Option(help: "Model: a registry name, a GGUF path or a pruned-model folder.") var model = "smollm2-135m"
    @Option(help: "Texts for perplexity, comma-separated (wikitext2, wiki, c4, … or paths).") var ppl: String?
    @Option(help: "Zero-shot tasks: a comma-separated list, `all` or `all+lambada`.") var zeroshot: String?
    @Flag(help: "Run the latency suite.") var latency = false
    @OptionGroup var latencyOptions: LatencyOptions
    @OptionGroup var perplexity: PerplexityOptions
    @Option(help: "Zero-shot: only the first N documents of each task.") var limit: Int?
    @Flag(help: "Zero-shot: score every choice from scratch (no shared context).") var naive = false
    @Option(help: "Store everything, with provenance, in this HDF5 file.") var output: String?
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard ppl != nil || zeroshot != nil || latency else { throw ValidationError("nothing to run: give --ppl, --zeroshot and/or --latency") }
        if let ppl, ppl.split(separator: ",").isEmpty { throw ValidationError("--ppl needs at least one text") }
        _ = try zeroShotOptions()?.taskList()
    }

    func zeroShotOptions() throws -> ZeroShotOptions? {
        guard let zeroshot else { return nil }
        var arguments = ["--tasks", zeroshot]
        if let limit { arguments += ["--limit", String(limit)] }
        if naive { arguments.append("--naive") }
        return try ZeroShotOptions.parse(arguments)
    }

    func run() throws {
        try checkOutputFile(output, resumable: true)
        let threads = threadOptions.apply()
        let loaded = try ModelLoader.load(model)
        let modelHash = try loaded.checkpointSHA256()
        var json: [String: Any] = ["command": "eval run", "model": loaded.name, "threads": threads, "model_sha256": modelHash]
        let zeroShot = try zeroShotOptions()
        let resume = try output.map {
            try ResumeLog(path: resumeLogPath($0), key: "eval run \(modelHash) ppl=\(ppl ?? "-") \(perplexity.key) zeroshot=\(zeroShot?.key ?? "-")")
        }
        var provenance: [String: H5AttributeValue] = [:]
        var writes: [(H5Writer) throws -> Void] = []
        if let ppl {
            var runs: [String: Any] = [:]
            for data in ppl.split(separator: ",").map(String.init) {
                let run = try perplexity.evaluate(data, loaded: loaded, threads: threads, resume: resume?.scope("ppl \(data) "))
                guard runs[run.json["data"] as! String] == nil else {
                    throw CommandError("--ppl: two texts are both named '\(run.json["data"]!)' in the results; rename one of the files")
                }
                runs[run.json["data"] as! String] = run.json
                for (key, value) in run.provenance { provenance["\(key)_\(run.json["data"]!)"] = value }
                writes.append(run.write)
            }
            json["perplexity"] = runs
        }
        if let options = zeroShot {
            let tasks = try options.taskList()
            let results = try options.evaluate(tasks, loaded: loaded, resume: resume?.scope("zeroshot "))
            let summary = options.summary(results, model: loaded.model)
            json["zeroshot"] = summary
            provenance.merge(try options.provenance(tasks)) { _, new in new }
            writes.append {
                try ZeroShot.write(results, to: $0)
                try $0.setAttributes(ZeroShotOptions.throughputAttributes(summary), on: "/zeroshot")
            }
        }
        if latency {
            let result = try latencyOptions.suite().run(loaded.model) { print("\(loaded.name) \($0)") }
            json["latency"] = LatencyOptions.json(result)
            writes.append { try LatencySuite.write(result, to: $0) }
        }
        if let output {
            try storeResults(at: output, loaded: loaded, modelHash: modelHash, provenance: provenance) { writer in
                for write in writes { try write(writer) }
            }
            resume?.remove()
            json["output"] = output
        }
        if outputOptions.json { JSONOutput.emit(json) }
    }
}
