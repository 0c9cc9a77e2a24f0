import Foundation
import LinAlg
import Transformer

/// The calibration data on its way through a model being compressed, one layer at a time:
/// the residual stream entering the current layer, for every group of calibration
/// sequences. Layer ℓ sees what layers 0…ℓ−1 produce *after* they were compressed,
/// and only one layer's activations are held at any time.
public final class CalibrationFlow {
    /// The current layer's input rows, one matrix per group of `sequencesPerGroup` sequences.
    public private(set) var states: GroupedRows
    public let sequencesPerGroup: Int
    public let seqlen: Int
    /// Where every activation of the flow is kept when the run spills (nil: in memory).
    public let spill: SpillArea?
    public private(set) var layer = 0
    /// Calibration rows (tokens) in all groups.
    public var rowCount: Int { states.rowCount }

    /// Embeds the windows; groups of `sequencesPerGroup` go through each forward call.
    public init(model: TransformerModel, windows: [[Int32]], sequencesPerGroup: Int = 1, spill: SpillArea? = nil) throws {
        precondition(!windows.isEmpty && sequencesPerGroup >= 1)
        seqlen = windows[0].count
        self.sequencesPerGroup = sequencesPerGroup
        self.spill = spill
        let starts = Array(stride(from: 0, to: windows.count, by: sequencesPerGroup))
        states = try GroupedRows(count: starts.count, spill: spill) { g in
            try model.embeddings(Array(windows[starts[g]..<min(windows.count, starts[g] + sequencesPerGroup)].joined()))
        }
    }

    /// `count` groups made one at a time, kept as this flow keeps its activations.
    public func rows(count: Int, _ make: (Int) throws -> Matrix<Float>) throws -> GroupedRows {
        try GroupedRows(count: count, spill: spill, make)
    }

    /// Runs the attention half of the current layer of `model` over every group; returns
    /// the stream after attention (the MLP half's input), one matrix per group.
    public func attentionHalf(_ model: TransformerModel, observer: ActivationObserver? = nil) throws -> GroupedRows {
        try states.map(spill: spill) { try model.attentionHalf(layer, states: $0, batch: $0.rows / seqlen, observer: observer) }
    }

    /// Runs the current layer's attention up to its output projection over every group;
    /// returns the Wo input rows, one matrix per group.
    public func outputProjectionInputs(_ model: TransformerModel, observer: ActivationObserver? = nil) throws -> GroupedRows {
        try states.map(spill: spill) { try model.outputProjectionInputs(layer, states: $0, batch: $0.rows / seqlen, observer: observer) }
    }

    /// Runs the current layer's MLP up to its down projection over `middle` (one matrix per
    /// group); returns the Wdown input rows, one matrix per group.
    public func downProjectionInputs(_ model: TransformerModel, middle: GroupedRows, observer: ActivationObserver? = nil) throws -> GroupedRows {
        try middle.map(spill: spill) { try model.downProjectionInputs(layer, states: $0, observer: observer) }
    }

    /// The current layer's outputs once its MLP keeps only `keptChannels`, from the unpruned
    /// MLP's Wdown inputs: the pruned MLP's are their kept columns, so it is not rerun.
    public func outputsKeeping(_ keptChannels: [Int], of model: TransformerModel, downInputs: GroupedRows,
                               middle: GroupedRows) throws -> GroupedRows {
        try rows(count: middle.count) { g in
            try model.completeMLP(layer, downInput: downInputs.group(g).selectingColumns(keptChannels), residual: middle.group(g))
        }
    }

    /// The stream after the current layer's attention (the MLP half's input) once its output
    /// projection reads only `keptColumns`, from the unpruned attention's Wo inputs: removing
    /// whole heads leaves the kept heads' values as they were, so the attention is not rerun.
    public func middleKeeping(_ keptColumns: [Int], of model: TransformerModel, woInputs: GroupedRows) throws -> GroupedRows {
        try rows(count: states.count) { g in
            try model.completeAttention(layer, woInput: woInputs.group(g).selectingColumns(keptColumns), residual: states.group(g))
        }
    }

    /// Runs the MLP half of the current layer over `middle` (one matrix per group).
    public func mlpHalf(_ model: TransformerModel, middle: GroupedRows, observer: ActivationObserver? = nil) throws -> GroupedRows {
        try middle.map(spill: spill) { try model.mlpHalf(layer, states: $0, observer: observer) }
    }

    /// Continues a resumed prune: `states` are the stream entering layer `layer`.
    func resume(states saved: GroupedRows, atLayer layer: Int) throws {
        guard saved.count == states.count, saved.indices.allSatisfy({ saved.rows($0) == states.rows($0) }) else {
            throw PruningError("the saved calibration stream does not match this run's calibration windows")
        }
        states = saved
        self.layer = layer
    }

    /// The current layer's outputs become the next layer's inputs.
    public func advance(to outputs: GroupedRows) {
        precondition(outputs.count == states.count)
        states = outputs
        layer += 1
    }

    /// Replaces the stream by its image under x ↦ x·Q (SliceGPT's rotate-and-slice of the
    /// stored signal), Q of shape [width, new width].
    public func transformStates(_ q: Matrix<Float>) throws {
        states = try states.map(spill: spill) { matmul($0, q) }
    }
}

/// Watches one capture site of one layer: accumulates Σ xᵀx in float64 there.
public final class SiteRecorder: ActivationObserver {
    public let layer: Int
    public let site: CaptureSite
    public private(set) var covariance: CovarianceAccumulator?
    private let products: BlockProducts

    public init(layer: Int, site: CaptureSite, products: BlockProducts = .float64) {
        self.layer = layer
        self.site = site
        self.products = products
    }

    public func wants(layer: Int, site: CaptureSite) -> Bool { layer == self.layer && site == self.site }

    public func observe(layer: Int, site: CaptureSite, activations: UnsafeBufferPointer<Float>, rows: Int, width: Int) throws {
        if covariance == nil { covariance = CovarianceAccumulator(dimension: width, products: products) }
        try covariance!.add(activations, rows: rows, label: "layer \(layer) \(site.rawValue)")
    }

    /// The accumulated Σ xᵀx (the site must have been observed).
    public var sum: Matrix<Double> {
        guard let covariance else { preconditionFailure("site \(site.rawValue) of layer \(layer) was never observed") }
        return covariance.matrix
    }

    /// The accumulated Σ xᵀx, and the accumulator's own memory released (the sum and the
    /// block buffer of an 11008-wide site are 1.5 GB).
    public func takeSum() -> Matrix<Double> {
        defer { covariance = nil }
        return sum
    }
}
