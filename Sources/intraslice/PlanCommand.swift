import ArgumentParser
import Datasets
import Evaluation
import Foundation
import Pruning
import Transformer

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Predict a prune's or an evaluation's peak memory and time on this machine, before running it.",
        discussion: """
        Takes the same arguments as the command it plans. The model may be a registry name, a GGUF file, a checkpoint \
        folder or only a config.json (then bf16 weights are assumed). The peak is the memory plan the command itself \
        checks against --memory-budget (resident when that fits, else streamed, else refused); the time is the work the \
        command does (products, factorisations, hashing, reading, writing) at rates measured here in a few seconds.
        """,
        subcommands: [PlanPrune.self, PlanEval.self]
    )
}

struct PlanPrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Plan `intraslice prune` with these arguments.")

    @OptionGroup var prune: Prune

    func run() throws {
        let threads = prune.threadOptions.apply()
        let job = try prune.makeJob()
        let config = try ModelLoader.configuration(prune.model)
        let scratch = (URL(fileURLWithPath: prune.output).standardizedFileURL.deletingLastPathComponent().path)
        try PlanOutcome.make(command: "prune", model: prune.model, config: config, memory: Prune.memory(config, job: job, threads: threads),
                             budget: prune.memoryOptions.budget, canStream: prune.canStream, scratchFolder: scratch,
                             json: prune.outputOptions.json) { choice, bytes in
            job.work(config, checkpointBytes: bytes, streamed: choice.streamed, spill: choice.spill)
        }
    }
}

struct PlanEval: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Plan an evaluation.", subcommands: [PlanPerplexity.self])
}

struct PlanPerplexity: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ppl", abstract: "Plan `intraslice eval ppl` with these arguments.")

    @OptionGroup var eval: EvalPerplexityArguments

    func run() throws {
        let threads = eval.threadOptions.apply()
        let config = try ModelLoader.configuration(eval.model)
        let options = eval.perplexity
        let windows = try options.windows ?? Self.availableWindows(eval.data, model: eval.model, seqlen: options.seqlen)
        let scratch = eval.output.map { URL(fileURLWithPath: $0).standardizedFileURL.deletingLastPathComponent().path }
            ?? FileManager.default.temporaryDirectory.path
        try PlanOutcome.make(command: "eval ppl", model: eval.model, config: config, memory: options.memory(config, threads: threads),
                             budget: eval.memoryOptions.budget, canStream: true, scratchFolder: scratch,
                             json: eval.outputOptions.json) { choice, bytes in
            Perplexity.work(config, windows: windows, seqlen: options.seqlen, batch: options.batch, checkpointBytes: bytes,
                            streamed: choice.streamed, streamedStateBytes: choice.spareBytes)
        }
    }

    /// Without --windows the evaluation takes every window of the text, which the tokenizer
    /// decides; a bare config has none, so its plan needs --windows.
    private static func availableWindows(_ data: String, model: String, seqlen: Int) throws -> Int {
        guard try ModelLoader.checkpointFiles(model) != nil else {
            throw CommandError("\(model): a config alone has no tokenizer to count the windows of \(data) with; give --windows")
        }
        let corpus = try TextCorpus.load(data)
        return Perplexity.windowCount(tokenCount: try ModelLoader.tokenizer(model).encode(corpus.bytes, addSpecialTokens: true).count,
                                      seqlen: seqlen)
    }
}

/// What `plan` reports: where the model would be held, the peak memory, the predicted
/// seconds by part, and the rates they were computed from.
struct PlanOutcome: Encodable {
    let command: String
    let model: String
    /// resident, streamed, or refused (the command would stop before loading).
    let residency: String
    /// Whether a prune keeps its calibration activations in a temporary file.
    let spillsCalibration: Bool
    let peakMemoryBytes: Int
    let budgetBytes: Int
    let seconds: Double
    let secondsByPart: [String: Double]
    let checkpointBytes: Int
    let checkpointMeasured: Bool
    let rates: MachineRates
    let refusal: String?

    enum CodingKeys: String, CodingKey {
        case command, model, residency, seconds, rates, refusal
        case peakMemoryBytes = "peak_memory_bytes", budgetBytes = "budget_bytes", secondsByPart = "seconds_by_part"
        case checkpointBytes = "checkpoint_bytes", checkpointMeasured = "checkpoint_measured"
        case spillsCalibration = "spills_calibration"
    }

    /// Plans one command: the memory choice it would make, then its work at rates measured
    /// now. `work(choice, checkpointBytes)` is the command's own estimate.
    static func make(command: String, model: String, config: ModelConfig, memory: RunMemory, budget: MemoryBudget, canStream: Bool,
                     scratchFolder: String, json: Bool, work: (RunMemory.Choice, Int) -> RunWork) throws {
        let residency: String, choice: RunMemory.Choice, refusal: String?
        do {
            choice = try memory.choose(budget: budget, model: model, canStream: canStream)
            (residency, refusal) = (choice.streamed ? "streamed" : "resident", nil)
        } catch let error as MemoryBudgetError {
            // Refused: the peak of the leanest way, and its work.
            choice = memory.leanest(canStream: canStream)
            (residency, refusal) = ("refused", error.description)
        }
        let peak = choice.peakBytes
        let files = try ModelLoader.checkpointFiles(model)
        // A bare config: its weights as bf16 safetensors.
        let bytes = files?.bytes ?? 2 * (memory.footprint.decoderParameters + memory.footprint.embeddingParameters + memory.footprint.headParameters)
        FileHandle.standardError.write(Data("plan: measuring this machine's rates (a few seconds)\n".utf8))
        let rates = try MachineRates.measure(checkpoint: files?.path, scratchFolder: scratchFolder)
        let parts = work(choice, bytes).seconds(at: rates)
        let outcome = PlanOutcome(command: command, model: model, residency: residency, spillsCalibration: choice.spill, peakMemoryBytes: peak, budgetBytes: budget.bytes,
                                  seconds: parts.values.reduce(0, +), secondsByPart: parts, checkpointBytes: bytes,
                                  checkpointMeasured: files != nil, rates: rates, refusal: refusal)
        outcome.print()
        if json { JSONOutput.emit(outcome) }
    }

    private func print() {
        let f = MemoryBudget.format
        Swift.print("\(command) \(model): \(residency)\(spillsCalibration ? ", spilling calibration activations" : ""), peak \(f(peakMemoryBytes)) of a \(f(budgetBytes)) budget, about "
                    + String(format: "%.0f s", seconds) + " on \(rates.threads) threads")
        for (part, value) in secondsByPart.sorted(by: { $0.value > $1.value }) where value >= 0.05 {
            Swift.print(String(format: "  %-17@ %9.1f s", part as NSString, value))
        }
        if let refusal { Swift.print("refused: \(refusal)") }
    }
}
