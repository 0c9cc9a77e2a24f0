import ArgumentParser
import Evaluation
import Foundation
import Transformer

/// `--memory-budget SIZE`: how much memory the run may use; it decides whether the model
/// is held resident or streamed a layer at a time, and a run that fits neither way is
/// refused before it loads anything.
struct MemoryOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Memory the run may use, e.g. 6GiB or 500MiB (default: 3/4 of physical memory).",
                               valueName: "size"))
    var memoryBudget: String?

    func validate() throws {
        if let memoryBudget, MemoryBudget(parsing: memoryBudget) == nil {
            throw ValidationError("--memory-budget must be a size such as 6GiB, 500MiB or 6000000000, got '\(memoryBudget)'")
        }
    }

    var budget: MemoryBudget { memoryBudget.flatMap(MemoryBudget.init(parsing:)) ?? .standard }

    /// Loads `model` resident or streamed, whichever `memory` says fits the budget, and says
    /// which on stderr; returns the model and the choice (whether to spill, the budget left).
    func load(_ model: String, canStream: Bool = true, memory: (ModelConfig) -> RunMemory) throws -> (LoadedModel, RunMemory.Choice) {
        let config = try ModelLoader.configuration(model)
        let choice = try memory(config).choose(budget: budget, model: model, canStream: canStream)
        let f = MemoryBudget.format
        FileHandle.standardError.write(Data(("\(model): \(choice.streamed ? "streamed, one layer at a time" : "resident")"
            + "\(choice.spill ? ", spilling calibration activations to disk" : "") "
            + "(estimated peak \(f(choice.peakBytes)) of a \(f(budget.bytes)) budget)\n").utf8))
        return (try ModelLoader.load(model, streamed: choice.streamed), choice)
    }
}
