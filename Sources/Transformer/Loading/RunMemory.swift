import Foundation


/// How a run's memory is planned: the model's weights (all layers, or one layer at a time),
/// the activations of its forward calls, and what the process already holds. `choose`
/// picks resident when it fits the budget, else streamed when that fits, and otherwise
/// refuses the run before anything is loaded, with the estimate.
public struct RunMemory: Sendable {
    public let footprint: ModelFootprint
    /// Activations and scratch of the run (forward calls, scoring, calibration).
    public let workingBytes: Int
    /// The part of `workingBytes` a run can keep in a temporary file instead (a prune's
    /// calibration activations beyond the groups in use).
    public let spillableBytes: Int
    /// What the process holds before the model is loaded (tokenizer, text, the program).
    public let processBytes: Int
    /// How many versions of the layers a resident run holds at once (a prune: the loaded
    /// model's and the pruned one's).
    public let residentLayerCopies: Int
    /// Whether a streamed run holds the embedding and head throughout; a streamed prune
    /// holds them only before its first layer and at the write (`LayerStreaming`).
    public let streamedKeepsVocabulary: Bool

    public init(footprint: ModelFootprint, workingBytes: Int, spillableBytes: Int = 0, residentLayerCopies: Int = 1,
                streamedKeepsVocabulary: Bool = true, processBytes: Int = RunMemory.currentResidentBytes()) {
        precondition(spillableBytes >= 0 && spillableBytes <= workingBytes)
        self.footprint = footprint
        self.workingBytes = workingBytes
        self.spillableBytes = spillableBytes
        self.residentLayerCopies = residentLayerCopies
        self.streamedKeepsVocabulary = streamedKeepsVocabulary
        self.processBytes = processBytes
    }

    /// How a run is held: its layers resident or streamed, its spillable working memory in
    /// memory or in a temporary file; the peak that gives, and what the budget leaves over.
    public struct Choice: Sendable {
        public let streamed: Bool
        public let spill: Bool
        public let peakBytes: Int
        public let spareBytes: Int

        /// "resident" or "streamed", with ", spilling calibration activations" when it spills.
        public var description: String { (streamed ? "streamed" : "resident") + (spill ? ", spilling calibration activations" : "") }
    }

    public var residentPeak: Int { peak(streamed: false, spill: false) }
    public var streamedPeak: Int { peak(streamed: true, spill: false) }

    /// The peak of the run held so. Streamed, one layer at a time; a run that releases the
    /// vocabulary matrices peaks either while it holds them or while it works on a layer
    /// (the layer's assembly, or its copies with the run's working memory).
    public func peak(streamed: Bool, spill: Bool) -> Int {
        let working = workingBytes - (spill ? spillableBytes : 0)
        guard streamed else { return processBytes + footprint.residentBytes + (residentLayerCopies - 1) * 4 * footprint.decoderParameters + working }
        if streamedKeepsVocabulary { return processBytes + footprint.streamedBytes + working }
        let layer = footprint.largestLayerBytes
        let layerWork = max(footprint.streamedBytes - footprint.outsideLayersBytes, residentLayerCopies * layer + working)
        return processBytes + max(footprint.outsideLayersBytes, layerWork)
    }

    /// The first way to hold the run that fits the budget: resident, then streamed, then
    /// spilling as well (resident when the command cannot stream). Throws when none fits.
    public func choose(budget: MemoryBudget, model: String, canStream: Bool = true) throws -> Choice {
        var ways = [(streamed: false, spill: false)]
        if canStream { ways.append((true, false)) }
        if spillableBytes > 0 { ways.append((canStream, true)) }
        for way in ways {
            let peak = peak(streamed: way.streamed, spill: way.spill)
            if peak <= budget.bytes { return Choice(streamed: way.streamed, spill: way.spill, peakBytes: peak, spareBytes: budget.bytes - peak) }
        }
        let f = MemoryBudget.format
        let lowest = leanest(canStream: canStream).peakBytes
        throw MemoryBudgetError(description: "\(model): needs \(f(residentPeak)) resident"
            + (canStream ? " and \(f(streamedPeak)) streamed" : " (this command cannot stream)")
            + (spillableBytes > 0 ? ", \(f(lowest)) spilling calibration activations to disk" : "")
            + " (weights \(f(footprint.residentBytes)), largest layer \(f(footprint.largestLayerBytes)), embedding and head "
            + "\(f(footprint.outsideLayersBytes)), activations \(f(workingBytes)), process \(f(processBytes))); "
            + "the memory budget is \(f(budget.bytes)) (--memory-budget)")
    }

    /// The way with the lowest peak (streamed if the command can stream, spilling if it
    /// can spill), with nothing spare: what a refused run would have needed at least.
    public func leanest(canStream: Bool) -> Choice {
        let spill = spillableBytes > 0
        return Choice(streamed: canStream, spill: spill, peakBytes: peak(streamed: canStream, spill: spill), spareBytes: 0)
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
