import Foundation


/// How a run's memory is planned: the model's weights (all layers, or one layer at a time),
/// the activations of its forward calls, and what the process already holds. `choose`
/// picks resident when it fits the budget, else streamed when that fits, and otherwise
/// refuses the run before anything is loaded, with the estimate.
public struct RunMemory: Sendable {
    public let footprint: ModelFootprint
    /// Activations and scratch of the run (forward calls, scoring, calibration).
    public let workingBytes: Int
    /// What the process holds before the model is loaded (tokenizer, text, the program).
    public let processBytes: Int
    /// How many versions of the layers a resident run holds at once (a prune: the loaded
    /// model's and the pruned one's).
    public let residentLayerCopies: Int
    /// Whether a streamed run holds the embedding and head throughout; a streamed prune
    /// holds them only before its first layer and at the write (`LayerStreaming`).
    public let streamedKeepsVocabulary: Bool

    public init(footprint: ModelFootprint, workingBytes: Int, residentLayerCopies: Int = 1, streamedKeepsVocabulary: Bool = true,
                processBytes: Int = RunMemory.currentResidentBytes()) {
        self.footprint = footprint
        self.workingBytes = workingBytes
        self.residentLayerCopies = residentLayerCopies
        self.streamedKeepsVocabulary = streamedKeepsVocabulary
        self.processBytes = processBytes
    }

    public var residentPeak: Int {
        processBytes + footprint.residentBytes + (residentLayerCopies - 1) * 4 * footprint.decoderParameters + workingBytes
    }
    /// One layer at a time; a run that releases the vocabulary matrices peaks either while it
    /// holds them or while it works on a layer (the layer's assembly, or its copies with the
    /// run's working memory).
    public var streamedPeak: Int {
        if streamedKeepsVocabulary { return processBytes + footprint.streamedBytes + workingBytes }
        let layer = footprint.largestLayerBytes
        let layerWork = max(footprint.streamedBytes - footprint.outsideLayersBytes, residentLayerCopies * layer + workingBytes)
        return processBytes + max(footprint.outsideLayersBytes, layerWork)
    }

    /// Whether to stream, and the bytes of the budget left over (for a streamed run's
    /// layer-major activations). Throws when the run fits neither way.
    public func choose(budget: MemoryBudget, model: String, canStream: Bool = true) throws -> (streamed: Bool, spareBytes: Int) {
        if residentPeak <= budget.bytes { return (false, budget.bytes - residentPeak) }
        if canStream && streamedPeak <= budget.bytes { return (true, budget.bytes - streamedPeak) }
        let f = MemoryBudget.format
        throw MemoryBudgetError(description: "\(model): needs \(f(residentPeak)) resident"
            + (canStream ? " and \(f(streamedPeak)) streamed" : " (this command cannot stream)")
            + " (weights \(f(footprint.residentBytes)), largest layer \(f(footprint.largestLayerBytes)), embedding and head "
            + "\(f(footprint.outsideLayersBytes)), activations \(f(workingBytes)), process \(f(processBytes))); "
            + "the memory budget is \(f(budget.bytes)) (--memory-budget)")
    }

    /// Activations and scratch of one forward call over `rows` rows with up to `keys` keys,
    /// and of scoring its rows under the LM head (64 rows of logits at a time).
    public static func forwardBytes(_ config: ModelConfig, rows: Int, keys: Int, threads: Int) -> Int {
        let d = config.hiddenSize, f = config.intermediateSize, dh = config.resolvedHeadDim
        let fused = (config.numAttentionHeads + 2 * config.numKeyValueHeads) * dh
        let perRow = 5 * d + fused + config.numAttentionHeads * dh + 3 * f
        return 4 * (rows * perRow + threads * 128 * keys + 64 * (config.vocabSize + d))
    }

    /// The process's resident memory now (from /proc/self/statm), in bytes.
    public static func currentResidentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

public struct MemoryBudgetError: Error, CustomStringConvertible {
    public let description: String
}
