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

    /// Embeds the windows; groups of `sequencesPerGroup` go through each forward call.
    public init(model: TransformerModel, windows: [[Int32]], sequencesPerGroup: Int = 1) throws {
        precondition(!windows.isEmpty && sequencesPerGroup >= 1)
        seqlen = windows[0].count
        self.sequencesPerGroup = sequencesPerGroup
        states = try stride(from: 0, to: windows.count, by: sequencesPerGroup).map { start in
            try model.embeddings(Array(windows[start..<min(windows.count, start + sequencesPerGroup)].joined()))
        }
    }

    public var tokenCount: Int { states.reduce(0) { $0 + $1.rows } }

    /// Runs the attention half of the current layer of `model` over every group; returns
    /// the stream after attention (the MLP half's input), one matrix per group.
    public func attentionHalf(_ model: TransformerModel, observer: ActivationObserver? = nil) throws -> [Matrix<Float>] {
        try states.map { try model.attentionHalf(layer, states: $0, batch: $0.rows / seqlen, observer: observer) }
    }

    /// Runs the MLP half of the current layer over `middle` (one matrix per group).
    public func mlpHalf(_ model: TransformerModel, middle: [Matrix<Float>], observer: ActivationObserver? = nil) throws -> [Matrix<Float>] {
        try middle.map { try model.mlpHalf(layer, states: $0, observer: observer) }
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

/// Accumulates Σ xᵀx in Float64 for chosen capture sites of one layer while the forward
/// pass runs, never storing the activations.
public final class CovarianceObserver: ActivationObserver {
    public let layer: Int
    public private(set) var accumulators: [CaptureSite: CovarianceAccumulator] = [:]
    private let sites: Set<CaptureSite>

    public init(layer: Int, sites: Set<CaptureSite>) {
        self.layer = layer
        self.sites = sites
    }

    public func wants(layer: Int, site: CaptureSite) -> Bool { layer == self.layer && sites.contains(site) }

    public func observe(layer: Int, site: CaptureSite, activations: UnsafeBufferPointer<Float>, rows: Int, width: Int) throws {
        var accumulator = accumulators[site] ?? CovarianceAccumulator(dimension: width)
        try accumulator.add(activations, rows: rows, label: "layer \(layer) \(site.rawValue)")
        accumulators[site] = accumulator
    }

    /// The accumulated sum for `site` (it must have been observed).
    public func covariance(_ site: CaptureSite) -> Matrix<Double> {
        guard let accumulator = accumulators[site] else { preconditionFailure("site \(site.rawValue) of layer \(layer) was never observed") }
        return accumulator.matrix
    }
}
