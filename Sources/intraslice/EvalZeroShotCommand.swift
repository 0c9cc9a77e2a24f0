import ArgumentParser
import Datasets
import Evaluation
import Foundation
import H5Store
import LinAlg
import ModelIO
import Transformer

struct EvalZeroShot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zeroshot",
        abstract: "Zero-shot multiple-choice accuracy (lm-evaluation-harness templates and metrics, EVALUATION.md).",
        discussion: """
        Tasks: piqa, hellaswag, winogrande, arc_easy, arc_challenge, boolq, openbookqa, lambada; \
        `all` = the first seven (IntraSlice's average; SliceGPT's is piqa, winogrande, hellaswag, arc_easy, arc_challenge), \
        `all+lambada` adds lambada. The choices of a document share their context's computation \
        (--naive turns that off, to measure it).
        """
    )

    @OptionGroup var zeroShot: ZeroShotOptions
    @Option(help: "Model: a registry name (smollm2-135m, gemma3-270m, qwen2.5-0.5b), a GGUF path or a pruned-model folder.")
    var model = "smollm2-135m"
    @Option(help: "Store every document's scores and the metrics, with provenance, in this HDF5 file.") var output: String?
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func run() throws {
        try checkOutputFile(output, resumable: true)
        let threads = threadOptions.apply()
        let loaded = try ModelLoader.load(model)
        let tasks = try zeroShot.taskList()
        FileHandle.standardError.write(Data("\(loaded.name): loaded in \(String(format: "%.1f", loaded.loadSeconds)) s; \(tasks.count) tasks; \(threads) threads\n".utf8))
        let modelHash = try loaded.checkpointSHA256()
        let resume = try output.map { try ResumeLog(path: resumeLogPath($0), key: "eval zeroshot \(modelHash) \(zeroShot.key)") }
        let results = try zeroShot.evaluate(tasks, loaded: loaded, resume: resume?.scope(""))
        var json: [String: Any] = ["command": "eval zeroshot", "model": loaded.name, "threads": threads, "model_sha256": modelHash]
        json.merge(zeroShot.summary(results, model: loaded.model)) { _, new in new }
        if let output {
            try storeResults(at: output, loaded: loaded, modelHash: modelHash, provenance: zeroShot.provenance(tasks)) { writer in
                try ZeroShot.write(results, to: writer)
                try writer.setAttributes(ZeroShotOptions.throughputAttributes(json), on: "/zeroshot")
            }
            resume?.remove()
            json["output"] = output
        }
        if outputOptions.json { JSONOutput.emit(json) }
    }
}

/// The options of a zero-shot evaluation, shared by `eval zeroshot` and `eval run`.
struct ZeroShotOptions: ParsableArguments {
    @Option(help: "Tasks: a comma-separated list, `all` (the 7 of the averages) or `all+lambada`.") var tasks = "all"
    @Option(help: "Only the first N documents of each task.") var limit: Int?
    @Flag(help: "Score every choice from scratch instead of sharing its document's context (slower; for comparison).")
    var naive = false
    @Option(help: "Rows (tokens) per forward call when packing documents.") var rowsPerCall = 2048
    @Flag(help: "Also measure the sgemm ceiling (2048², after the tasks) and report the fraction of it reached.")
    var gemmCeiling = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        guard rowsPerCall >= 16 else { throw ValidationError("--rows-per-call must be at least 16, got \(rowsPerCall)") }
        _ = try taskList()
    }

    func taskList() throws -> [ZeroShotTask] {
        do { return try ZeroShotTask.parseList(tasks) } catch let error as TaskFileError {
            throw ValidationError("--tasks: '\(error.path)': \(error.message)")
        }
    }

    /// Runs the tasks one after another, each with its own progress line, and prints a line per task.
    /// The settings that decide the numbers, for resume-log keys (task files are pinned by hash).
    var key: String { "tasks=\(tasks) limit=\(limit.map(String.init) ?? "all") share_prefix=\(!naive)" }

    func evaluate(_ tasks: [ZeroShotTask], loaded: LoadedModel, resume: ResumeScope? = nil) throws -> [ZeroShotTaskResult] {
        var scorer = ContinuationScorer(model: loaded.model)
        scorer.sharePrefix = !naive
        scorer.rowsPerCall = rowsPerCall
        var results: [ZeroShotTaskResult] = []
        for task in tasks {
            let documents = try task.load(limit: limit)
            let taskHash = try Self.taskFileSHA256(task)
            let result = try ZeroShot.evaluate(task, documents: documents, model: loaded.model, tokenizer: loaded.tokenizer, scorer: scorer,
                                               progress: ProgressLine(task.rawValue, total: documents.count, unit: "docs"),
                                               resume: resume?.input(sha256: taskHash))
            results.append(result)
            if result.resumedDocuments > 0 {
                let note = "\(task.rawValue): \(result.resumedDocuments) documents taken from the resume log; "
                    + "the throughput is over the \(result.computedDocuments) scored now\n"
                FileHandle.standardError.write(Data(note.utf8))
            }
            print(Self.line(result))
        }
        for (name, members) in [("SliceGPT 5-task", ZeroShotTask.sliceGPTAverage), ("IntraSlice 7-task", ZeroShotTask.intraSliceAverage)] {
            if let average = ZeroShot.average(results, over: members) { print(String(format: "%@ average: %.2f", name, 100 * average)) }
        }
        return results
    }

    static func line(_ r: ZeroShotTaskResult) -> String {
        if r.task == .lambada {
            return String(format: "lambada: %d docs, greedy-match acc %.2f ± %.2f, ppl %.3f; %.1f s, %.1f docs/s, %.0f tokens/s", r.documents.count,
                          100 * r.greedyAccuracy, 100 * r.standardError(r.greedyAccuracy), r.perplexity, r.seconds, r.documentsPerSecond, r.rowsPerSecond)
        }
        var text = String(format: "%@: %d docs, acc %.2f ± %.2f", r.task.rawValue, r.documents.count, 100 * r.accuracy,
                          100 * r.standardError(r.accuracy))
        if r.task != .winogrande {
            text += String(format: ", acc_norm %.2f ± %.2f", 100 * r.normalizedAccuracy, 100 * r.standardError(r.normalizedAccuracy))
        }
        return text + String(format: " [reports %@]; %.1f s, %.1f docs/s, %.0f tokens/s", r.task.reportedMetric.rawValue, r.seconds,
                             r.documentsPerSecond, r.rowsPerSecond)
    }

    func summary(_ results: [ZeroShotTaskResult], model: TransformerModel) -> [String: Any] {
        var perTask: [String: Any] = [:]
        for r in results {
            var entry: [String: Any] = [
                "documents": r.documents.count, "metric": r.task.reportedMetric.rawValue, "reported": r.reported,
                "reported_stderr": r.standardError(r.reported), "seconds": r.seconds, "rows": r.counts.rows,
                "scored_rows": r.counts.scoredRows, "tokens_per_second": r.rowsPerSecond, "documents_resumed": r.resumedDocuments,
            ]
            if r.task == .lambada {
                entry["greedy_acc"] = r.greedyAccuracy
                entry["ppl"] = r.perplexity
            } else {
                entry["acc"] = r.accuracy
                entry["acc_stderr"] = r.standardError(r.accuracy)
            }
            if r.task != .lambada && r.task != .winogrande {
                entry["acc_norm"] = r.normalizedAccuracy
                entry["acc_norm_stderr"] = r.standardError(r.normalizedAccuracy)
            }
            perTask[r.task.rawValue] = entry
        }
        let seconds = results.reduce(0) { $0 + $1.seconds }
        var counts = ContinuationScorer.Counts()
        for r in results { counts.add(r.counts) }
        let flops = ForwardCost.scoringFLOPs(model, counts: counts)
        var json: [String: Any] = [
            "tasks": perTask, "seconds": seconds, "rows": counts.rows, "scored_rows": counts.scoredRows,
            "tokens_per_second": Double(counts.rows) / seconds, "gflops_per_second": flops / seconds / 1e9,
            "share_prefix": !naive, "limit": limit.map { $0 as Any } ?? "all",
            "documents_resumed": results.reduce(0) { $0 + $1.resumedDocuments },
        ]
        if gemmCeiling {
            let ceiling = benchmarkSgemm(size: 2048).gflopsMedian
            json["gemm_ceiling_gflops"] = ceiling
            json["fraction_of_ceiling"] = flops / seconds / 1e9 / ceiling
            print(String(format: "zero-shot: %d rows in %.0f s, %.0f tokens/s, %.1f GFLOP/s = %.1f%% of the sgemm ceiling (%.1f GFLOP/s)",
                         counts.rows, seconds, Double(counts.rows) / seconds, flops / seconds / 1e9, 100 * flops / seconds / 1e9 / ceiling, ceiling))
        }
        if let average = ZeroShot.average(results, over: ZeroShotTask.sliceGPTAverage) { json["average_slicegpt_5"] = average }
        if let average = ZeroShot.average(results, over: ZeroShotTask.intraSliceAverage) { json["average_intraslice_7"] = average }
        return json
    }

    /// The run's throughput figures from `summary`, as HDF5 attributes.
    static func throughputAttributes(_ summary: [String: Any]) -> [String: H5AttributeValue] {
        var attributes: [String: H5AttributeValue] = [:]
        for key in ["seconds", "tokens_per_second", "gflops_per_second", "gemm_ceiling_gflops", "fraction_of_ceiling"] {
            if let value = summary[key] as? Double { attributes[key] = .double(value) }
        }
        for key in ["rows", "scored_rows", "documents_resumed"] {
            if let value = summary[key] as? Int { attributes[key] = .int(Int64(value)) }
        }
        return attributes
    }

    /// The SHA-256 of a task's file: resolving it by name checked the file against its
    /// pinned hash, so that is its hash, without reading the file again.
    static func taskFileSHA256(_ task: ZeroShotTask) throws -> String {
        let resolved = try AssetRegistry.resolve(task.rawValue, kind: .task)
        return try resolved.asset?.sha256 ?? SHA256.hex(ofFile: resolved.path)
    }

    /// The task files and their hashes, for the provenance record.
    func provenance(_ tasks: [ZeroShotTask]) throws -> [String: H5AttributeValue] {
        var fields: [String: H5AttributeValue] = [
            "zeroshot_tasks": .strings(tasks.map(\.rawValue)), "zeroshot_limit": .int(Int64(limit ?? 0)),
            "zeroshot_share_prefix": .int(naive ? 0 : 1),
        ]
        for task in tasks { fields["task_\(task.rawValue)_sha256"] = .string(try Self.taskFileSHA256(task)) }
        return fields
    }
}
