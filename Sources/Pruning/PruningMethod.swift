import Datasets
import Foundation
import LinAlg
import Transformer

/// Which quantity a ratio fixes.
public enum RatioKind: String, Sendable, Codable, CaseIterable {
    /// The method's own knob: the fraction of each module's width removed (for SliceGPT,
    /// of the residual stream's width D, before shortcut matrices are added back).
    case slicing
    /// The fraction of decoder-layer parameters removed (embedding and head excluded),
    /// counted from the pruned weights, shortcut matrices included.
    case params
}

public struct PruningRatio: Sendable, Codable, Equatable {
    public let value: Double
    public let kind: RatioKind

    public static let allowed = 0.0...0.95

    public init(_ value: Double, kind: RatioKind) throws {
        guard value.isFinite, Self.allowed.contains(value) else {
            throw PruningError("ratio \(value) is outside [\(Self.allowed.lowerBound), \(Self.allowed.upperBound)]")
        }
        self.value = value
        self.kind = kind
    }
}

/// What a method gets besides the model.
public struct PruningContext {
    public let ratio: PruningRatio
    public let calibration: CalibrationSet?
    /// Calibration sequences per forward call (memory against call overhead).
    public let sequencesPerGroup: Int
    public let progress: (String) -> Void
    /// Where the run saves its state after finished layers and resumes from (nil: never).
    public let checkpoints: PruneCheckpoints?
    /// A streamed model's layers move in and out through this (nil: the model is resident).
    public let streaming: LayerStreaming?
    /// Where the calibration activations are kept when they would not fit in memory (nil:
    /// in memory).
    public let spill: SpillArea?
    /// Per-layer attention and MLP ratios of a global allocation (nil: uniform).
    public let allocation: [ModuleRatios]?
    /// Whether the method records the covariances it computes (`recordCovariance`).
    public let savesCovariances: Bool

    public init(ratio: PruningRatio, calibration: CalibrationSet?, sequencesPerGroup: Int = 1, checkpoints: PruneCheckpoints? = nil,
                streaming: LayerStreaming? = nil, spill: SpillArea? = nil, allocation: [ModuleRatios]? = nil, savesCovariances: Bool = false,
                progress: @escaping (String) -> Void = { _ in }) {
        self.ratio = ratio
        self.allocation = allocation
        self.savesCovariances = savesCovariances
        self.calibration = calibration
        self.sequencesPerGroup = sequencesPerGroup
        self.checkpoints = checkpoints
        self.streaming = streaming
        self.spill = spill
        self.progress = progress
    }

    /// What layer `index` (as it was before pruning) gives up.
    func budget(for layer: DecoderLayer, index: Int) -> LayerBudget {
        LayerBudget(layer: layer, ratio: ratio, modules: allocation?[index])
    }

    /// The calibration windows of `method` embedded by `model`, grouped and kept (in memory
    /// or spilled) as this run says.
    func calibrationFlow(_ model: TransformerModel, for method: String) throws -> CalibrationFlow {
        try CalibrationFlow(model: model, windows: try requireCalibration(method).windows, sequencesPerGroup: sequencesPerGroup, spill: spill)
    }

    /// Called before a method works on layer `index`: a streamed model's layer is read in.
    func enter(_ index: Int, _ model: inout TransformerModel) throws {
        try streaming?.load(index, into: &model)
    }

    /// Applies a saved state of an interrupted run with the same settings to `model`, `flow`
    /// and `statistics`; returns the first layer still to prune (0 without one) and the
    /// method's own saved state.
    func resume(_ model: inout TransformerModel, flow: CalibrationFlow?,
                statistics: inout PruningStatistics) throws -> (nextLayer: Int, extras: [String: Matrix<Double>]) {
        guard let checkpoints, let state = try checkpoints.restore(onto: model, spill: flow?.spill) else { return (0, [:]) }
        model = state.model
        statistics = state.statistics
        try flow?.resume(states: state.flowStates, atLayer: state.nextLayer)
        if let streaming {
            // The finished layers go to the output again, in order; none stays loaded.
            for index in model.layers.indices { model.layers[index] = .unloaded }
            for index in 0..<state.nextLayer {
                try streaming.replay(index, try checkpoints.finishedLayer(index, onto: try streaming.source.layer(index)))
            }
        }
        progress("resumed after layer \(state.nextLayer)/\(model.layers.count) from \(checkpoints.folder.path)")
        return (state.nextLayer, state.extras)
    }

    /// Saves the state after a finished layer (see `PruneCheckpoints.save`); a streamed
    /// model's layer is saved on its own first, and goes to the output.
    func layerFinished(_ index: Int, model: inout TransformerModel, flow: CalibrationFlow?, statistics: PruningStatistics,
                       extras: @autoclosure () -> [String: Matrix<Double>] = [:]) throws {
        if let streaming {
            // Saved apart before the state that counts it; unloaded before that state, which
            // then holds no layer.
            try checkpoints?.saveFinishedLayer(index, model.layers[index])
            try streaming.finish(index, in: &model)
        }
        try checkpoints?.save(PruneState(nextLayer: index + 1, model: model, flowStates: flow?.states ?? GroupedRows([]), statistics: statistics,
                                         extras: extras()), layerCount: model.layers.count)
    }

    /// Records `sum` (Σ x xᵀ over `rows` calibration rows at `site`) as the site's
    /// `covariance`, E[x xᵀ], when the run keeps covariances.
    func recordCovariance(_ statistics: inout PruningStatistics, layer: Int, site: CaptureSite, sum: Matrix<Double>, rows: Int) {
        guard savesCovariances else { return }
        let scale = 1 / Double(max(1, rows))
        statistics.record(layer: layer, site: site, "covariance", sum.elements.map { $0 * scale }, shape: [sum.rows, sum.cols])
    }

    func requireCalibration(_ method: String) throws -> CalibrationSet {
        guard let calibration else { throw PruningError("\(method) needs calibration data") }
        return calibration
    }
}

/// A structured compression method: it physically shrinks the model's matrices and
/// reports what it measured on the way.
public protocol PruningMethod {
    var name: String { get }
    var needsCalibration: Bool { get }
    /// Whether every shape the method makes follows from the ratio (and the allocation's
    /// per-layer ratios) alone, not from what it measures on the calibration windows; only
    /// then does a timing stand-in (`PruningJob.standInWindows`) have the prune's shapes.
    var shapesFollowRatio: Bool { get }
    /// Throws, with the reason, when the method cannot compress this architecture.
    func check(_ adapter: ArchitectureAdapter) throws
    func prune(_ model: inout TransformerModel, context: PruningContext) throws -> PruningStatistics
}

public enum PruningMethods {
    public static let names = ["magnitude", "wanda", "slicegpt", "intraslice"]
    /// Methods that take per-layer ratios from a global allocation (SliceGPT slices the
    /// residual stream, one width for all layers).
    public static let allocatable = ["magnitude", "wanda", "intraslice"]

    /// The allocation a method is published with: IntraSlice's code estimates global
    /// ratios by default; FLAP's magnitude and Wanda baselines are uniform, as is SliceGPT.
    /// A width ratio (`slicing`) is always uniform: a global allocation spends parameters.
    public static func defaultAllocation(_ method: String, ratioKind: RatioKind) -> Allocation {
        method == "intraslice" && ratioKind == .params ? .published : .uniform
    }

    /// Whether a timing stand-in of the method (`PruningJob.standInWindows`) has its prune's
    /// shapes for less work: it measures statistics on calibration windows, and its shapes
    /// follow from the ratio alone.
    public static func hasStandIn(_ name: String) -> Bool {
        guard let method = try? make(name) else { return false }
        return method.needsCalibration && method.shapesFollowRatio
    }

    public static func make(_ name: String, options: MethodOptions = MethodOptions()) throws -> PruningMethod {
        switch name {
        case "magnitude": return StructuredPruning(scoring: .magnitude)
        case "wanda": return StructuredPruning(scoring: .wanda)
        case "slicegpt": return SliceGPT(options: options)
        case "intraslice": return IntraSlice(options: options)
        default: throw PruningError("unknown method '\(name)' (known: \(names.joined(separator: ", ")))")
        }
    }
}

/// Switches of the individual methods (their defaults are the published behaviour).
public struct MethodOptions: Sendable, Codable, Equatable {
    /// SliceGPT: also slice the LM head's input (off in the paper's default).
    public var sliceHead = false
    /// IntraSlice ablation: select MLP channels without the least-squares compensation.
    public var mlpCompensation = true

    public init(sliceHead: Bool = false, mlpCompensation: Bool = true) {
        self.sliceHead = sliceHead
        self.mlpCompensation = mlpCompensation
    }
}
