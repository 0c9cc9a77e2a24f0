import Foundation
import LinAlg
import Transformer

/// The calibration data on its way through a model being compressed, one layer at a time:
/// the residual stream entering the current layer, for every group of calibration
/// sequences. Layer ℓ sees what layers 0…ℓ−1 produce *after* they were compressed,
/// and only one layer's activations are held at any time.
public final class CalibrationFlow {
    /// The current layer's input rows, one matrix per group of `sequencesPerGroup` sequences.
    public private(set) var states: [Matrix<Float>]
    public let sequencesPerGroup: Int
    public let seqlen: Int
    public private(set) var layer = 0
    /// Calibration rows (tokens) in all groups.
    public var rowCount: Int { states.reduce(0) { $0 + $1.rows } }

    /// Embeds the windows; groups of `sequencesPerGroup` go through each forward call.
    public init(model: TransformerModel, windows: [[Int32]], sequencesPerGroup: Int = 1) throws {
        precondition(!windows.isEmpty && sequencesPerGroup >= 1)
        seqlen = windows[0].count
        self.sequencesPerGroup = sequencesPerGroup
        states = try stride(from: 0, to: windows.count, by: sequencesPerGroup).map { start in
            try model.embeddings(Array(windows[start..<min(windows.count, start + sequencesPerGroup)].joined()))
        }
    }

    /// Runs the attention half of the current layer of `model` over every group; returns
    /// the stream after attention (the MLP half's input), one matrix per group.
    public func attentionHalf(_ model: TransformerModel, observer: ActivationObserver? = nil) throws -> [Matrix<Float>] {
        try states.map { try model.attentionHalf(layer, states: $0, batch: $0.rows / seqlen, observer: observer) }
    }

    /// Runs the current layer's attention up to its output projection over every group;
    /// returns the Wo input rows, one matrix per group.
    public func outputProjectionInputs(_ model: TransformerModel, observer: ActivationObserver? = nil) throws -> [Matrix<Float>] {
        try states.map { try model.outputProjectionInputs(layer, states: $0, batch: $0.rows / seqlen, observer: observer) }
    }

    /// Runs the current layer's MLP up to its down projection over `middle` (one matrix per
    /// group); returns the Wdown input rows, one matrix per group.
    public func downProjectionInputs(_ model: TransformerModel, middle: [Matrix<Float>], observer: ActivationObserver? = nil) throws -> [Matrix<Float>] {
        try middle.map { try model.downProjectionInputs(layer, states: $0, observer: observer) }
    }

    /// The current layer's outputs once its MLP keeps only `keptChannels`, from the unpruned
    /// MLP's Wdown inputs: the pruned MLP's are their kept columns, so it is not rerun.
    public func outputsKeeping(_ keptChannels: [Int], of model: TransformerModel, downInputs: [Matrix<Float>],
                               middle: [Matrix<Float>]) throws -> [Matrix<Float>] {
        try zip(downInputs, middle).map { try model.completeMLP(layer, downInput: $0.selectingColumns(keptChannels), residual: $1) }
    }

    /// The stream after the current layer's attention (the MLP half's input) once its output
    /// projection reads only `keptColumns`, from the unpruned attention's Wo inputs: removing
    /// whole heads leaves the kept heads' values as they were, so the attention is not rerun.
    public func middleKeeping(_ keptColumns: [Int], of model: TransformerModel, woInputs: [Matrix<Float>]) throws -> [Matrix<Float>] {
        try zip(woInputs, states).map { try model.completeAttention(layer, woInput: $0.selectingColumns(keptColumns), residual: $1) }
    }

    /// Runs the MLP half of the current layer over `middle` (one matrix per group).
    public func mlpHalf(_ model: TransformerModel, middle: [Matrix<Float>], observer: ActivationObserver? = nil) throws -> [Matrix<Float>] {
        try middle.map { try model.mlpHalf(layer, states: $0, observer: observer) }
    }

    /// Continues a resumed prune: `states` are the stream entering layer `layer`.
    func resume(states saved: [Matrix<Float>], atLayer layer: Int) throws {
        guard saved.count == states.count, zip(saved, states).allSatisfy({ $0.rows == $1.rows }) else {
            throw PruningError("the saved calibration stream does not match this run's calibration windows")
        }
        states = saved
        self.layer = layer
    }

    /// The current layer's outputs become the next layer's inputs.
    public func advance(to outputs: [Matrix<Float>]) {
        precondition(outputs.count == states.count)
        states = outputs
        layer += 1
    }

    /// Replaces the stream by its image under x ↦ x·Q (SliceGPT's rotate-and-slice of the
    /// stored signal), Q of shape [width, new width].
    public func transformStates(_ q: Matrix<Float>) {
        states = states.map { matmul($0, q) }
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
