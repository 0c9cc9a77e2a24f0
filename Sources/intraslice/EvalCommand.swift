import ArgumentParser
import Datasets
import Evaluation
import Foundation
import H5Store
import LinAlg
import ModelIO
import Transformer

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model (dense GGUF or pruned folder).",
        subcommands: [EvalPerplexity.self, EvalZeroShot.self]
    )
}

struct EvalPerplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ppl",
        abstract: "Perplexity on a text: whole file tokenized once, non-overlapping windows of --seqlen, ppl = exp(mean NLL).",
        discussion: "Each window is evaluated alone and predicts its tokens 2…L; the tail shorter than L is dropped."
    )

    @Option(help: "Model: a registry name (smollm2-135m, gemma3-270m, qwen2.5-0.5b) or a GGUF path.") var model = "smollm2-135m"
    @Option(help: "Text: wikitext2, wiki, c4, another registry text, or a file path.") var data = "wikitext2"
    @Option(help: "Window length L in tokens.") var seqlen = 2048
    @Option(help: "Evaluate only the first N windows (default: all).") var windows: Int?
    @Option(help: "Windows per forward call.") var batch = 1
    @Option(help: "Store the result and its provenance in this HDF5 file.") var output: String?
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard seqlen >= 2 && seqlen <= 131_072 else { throw ValidationError("--seqlen must be between 2 and 131072, got \(seqlen)") }
        if let windows, windows < 1 { throw ValidationError("--windows must be at least 1, got \(windows)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    }

    func run() throws {
        let threads = threadOptions.apply()
        let corpus = try TextCorpus.load(data)
        let loaded = try ModelLoader.load(model)
        let ids = loaded.tokenizer.encode(corpus.bytes, addSpecialTokens: true)
        let available = Perplexity.windowCount(tokenCount: ids.count, seqlen: seqlen)
        let count = windows ?? available
        guard count <= available else {
            throw CommandError("\(corpus.name) has \(ids.count) tokens: \(available) windows of \(seqlen), fewer than the \(count) asked for")
        }
        FileHandle.standardError.write(Data("\(loaded.name): loaded in \(String(format: "%.1f", loaded.loadSeconds)) s; \(corpus.name): \(ids.count) tokens, \(count) of \(available) windows of \(seqlen); \(threads) threads\n".utf8))
        let result = try Perplexity.evaluate(model: loaded.model, ids: ids, seqlen: seqlen, windows: count, batch: batch,
                                             progress: ProgressLine("ppl \(corpus.name) L=\(seqlen)", total: count, unit: "tok"))
        print(String(format: "%@ on %@ (L=%d, %d windows, %d predicted tokens): ppl %.4f (mean NLL %.5f), %.0f tokens/s, %d threads",
                     loaded.name, corpus.name, seqlen, count, result.predictedTokens, result.perplexity, result.meanNLL,
                     result.tokensPerSecond, threads))
        var json: [String: Any] = [
            "command": "eval ppl", "model": loaded.name, "data": corpus.name, "seqlen": seqlen, "windows": count,
            "windows_available": available, "tokens": ids.count, "predicted_tokens": result.predictedTokens,
            "ppl": result.perplexity, "mean_nll": result.meanNLL, "seconds": result.seconds,
            "tokens_per_second": result.tokensPerSecond, "threads": threads,
        ]
        if let output {
            let modelHash = try loaded.checkpointSHA256()
            let dataHash = SHA256.hex(of: Data(corpus.bytes))
            let writer = try H5Writer(path: output)
            try Provenance(extra: [
                "model": .string(loaded.name), "model_path": .string(loaded.path), "model_sha256": .string(modelHash),
                "data": .string(corpus.name), "data_path": .string(corpus.source.path), "data_sha256": .string(dataHash),
            ]).write(to: writer)
            let group = "/perplexity/\(corpus.name)"
            try writer.write(result.windowNLLSums, shape: [count], to: group + "/window_nll_sums")
            try writer.setAttributes([
                "seqlen": .int(Int64(seqlen)), "windows": .int(Int64(count)), "windows_available": .int(Int64(available)),
                "tokens": .int(Int64(ids.count)), "predicted_tokens": .int(Int64(result.predictedTokens)),
                "ppl": .double(result.perplexity), "mean_nll": .double(result.meanNLL), "seconds": .double(result.seconds),
                "tokens_per_second": .double(result.tokensPerSecond), "threads": .int(Int64(threads)),
                "protocol": .string("whole file tokenized once with the tokenizer's default special tokens; non-overlapping windows from the start, tail dropped; each window predicts tokens 2..L"),
            ], on: group)
            try writer.commit()
            json["output"] = output
            json["model_sha256"] = modelHash
        }
        if outputOptions.json { JSONOutput.emit(json) }
    }
}
