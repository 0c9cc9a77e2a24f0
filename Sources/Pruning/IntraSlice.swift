import Foundation
import LinAlg
import Transformer

/// IntraSlice (Li et al., 2026) with a uniform per-layer ratio: block-intra PCA inside each
/// module, on the activation entering its output projection, folded into the existing
/// weights; the residual stream keeps its full width and no parameter is added.
///
/// Per layer, on calibration data that went through the already-pruned earlier layers:
/// 1. the unpruned attention's statistics (Wo-input covariance, |q⊙k| per dimension, the
///    Wo inputs themselves as the ridge target);
/// 2. heads and rotary pairs chosen, then the Q/K-pruned attention run again for the V/O
///    basis and the ridge fit of Wo;
/// 3. the MLP's Wdown-input covariance behind the pruned attention, channel selection and
///    least-squares compensation.
struct IntraSlice: PruningMethod {
    let options: MethodOptions

    var name: String { "intraslice" }
    var needsCalibration: Bool { true }

    func check(_ adapter: ArchitectureAdapter) throws {}

    func prune(_ model: inout TransformerModel, context: PruningContext) throws -> PruningStatistics {
        let adapter = ArchitectureAdapter(model.architecture)
        let calibration = try context.requireCalibration(name)
        let flow = try CalibrationFlow(model: model, windows: calibration.windows, sequencesPerGroup: context.sequencesPerGroup)
        var statistics = PruningStatistics()
        for index in model.layers.indices {
            let original = model.layers[index]
            let plan = LayerBudget(layer: original, ratio: context.ratio)

            // 1. The unpruned attention on this layer's inputs.
            let observer = IntraSliceAttention.Observer(layer: index, attention: original.attention)
            let unprunedMiddle = try flow.attentionHalf(model, observer: observer)
            let width = original.attention.outputInputWidth
            let step = IntraSliceAttention(layer: index, keep: width - Int((context.ratio.value * Double(width)).rounded(.toNearestOrEven)),
                                           prunesQueryKeyPairs: adapter.queryKeyPairObstacle == nil)
            let heads = try step.planHeads(original.attention, covariance: observer.covariance.matrix)
            let pairs = step.planPairs(original.attention, keptHeads: heads.keptHeads, headSize: heads.headSize,
                                       products: observer.queryKeyProducts)
            statistics.record(layer: index, site: "attention", "channel_scores", heads.scores)
            statistics.record(layer: index, site: "attention", "kept_query_heads", heads.keptHeads)
            statistics.record(layer: index, site: "attention", "head_size", [heads.headSize])
            for (g, kept) in pairs { statistics.record(layer: index, site: "attention", "rope_pairs_kv_head_\(g)", kept) }

            // 2. Q/K pruned, heads removed: the V/O basis and the ridge fit on its outputs.
            let queryKeyPruned = step.queryKeyPruned(original.attention,
                                                     plan: .init(keptHeads: heads.keptHeads, headSize: heads.headSize, pairs: pairs))
            model.layers[index].attention = queryKeyPruned
            let fit = PairedOutputs(layer: index, targets: observer.outputs, prunedWidth: queryKeyPruned.outputInputWidth)
            _ = try flow.attentionHalf(model, observer: fit)
            let unchanged = queryKeyPruned.numHeads == original.attention.numHeads && queryKeyPruned.qkHeadDim == original.attention.qkHeadDim
            model.layers[index].attention = try step.fold(queryKeyPruned, original: original.attention, headSize: heads.headSize,
                                                          compressedCovariance: fit.covariance.matrix, cross: fit.cross.matrix,
                                                          queryKeyUnchanged: unchanged, statistics: &statistics)
            let middle = try flow.attentionHalf(model)
            statistics.record(layer: index, site: "attention", "relative_output_error",
                              [relativeError(middle, reference: unprunedMiddle, base: flow.states)])

            // 3. The MLP behind the pruned attention.
            let mlpObserver = CovarianceObserver(layer: index, sites: [.downProjectionInput])
            let unprunedOutputs = try flow.mlpHalf(model, middle: middle, observer: mlpObserver)
            let removed = plan.mlpChannelsRemoved(afterAttention: model.layers[index].attention)
            model.layers[index].mlp = try IntraSliceMLP(layer: index, compensation: options.mlpCompensation)
                .prune(original.mlp, removed: removed, covariance: mlpObserver.covariance(.downProjectionInput), statistics: &statistics)
            let outputs = try flow.mlpHalf(model, middle: middle)
            statistics.record(layer: index, site: "mlp", "relative_output_error",
                              [relativeError(outputs, reference: unprunedOutputs, base: middle)])
            flow.advance(to: outputs)

            let a = model.layers[index].attention
            context.progress("layer \(index + 1)/\(model.layers.count): \(a.numHeads)/\(original.attention.numHeads) heads of "
                             + "\(a.vHeadDim) (Q/K \(a.qkHeadDim)), \(model.layers[index].mlp.width)/\(original.mlp.width) MLP channels")
        }
        return statistics
    }

    /// ‖(y − base) − (ref − base)‖² / ‖ref − base‖² = ‖y − ref‖² / ‖ref − base‖²: the error of a
    /// module's contribution to the residual stream, relative to the unpruned contribution.
    private func relativeError(_ y: [Matrix<Float>], reference: [Matrix<Float>], base: [Matrix<Float>]) -> Double {
        var error = 0.0, signal = 0.0
        for ((a, r), b) in zip(zip(y, reference), base) {
            for i in a.elements.indices {
                let e = Double(a.elements[i]) - Double(r.elements[i]), s = Double(r.elements[i]) - Double(b.elements[i])
                error += e * e
                signal += s * s
            }
        }
        return signal > 0 ? error / signal : 0
    }
}

/// Σ X̃ᵀX̃ and Σ X̃ᵀX for the pruned attention's Wo inputs X̃, paired group by group with the
/// unpruned attention's X recorded on the same rows.
private final class PairedOutputs: ActivationObserver {
    let layer: Int
    let targets: [Matrix<Float>]
    var covariance: CovarianceAccumulator
    var cross: CrossProductAccumulator
    private var next = 0

    init(layer: Int, targets: [Matrix<Float>], prunedWidth: Int) {
        self.layer = layer
        self.targets = targets
        covariance = CovarianceAccumulator(dimension: prunedWidth)
        cross = CrossProductAccumulator(leftDimension: prunedWidth, rightDimension: targets[0].cols)
    }

    func wants(layer: Int, site: CaptureSite) -> Bool { layer == self.layer && site == .outputProjectionInput }

    func observe(layer: Int, site: CaptureSite, activations: UnsafeBufferPointer<Float>, rows: Int, width: Int) throws {
        let target = targets[next]
        precondition(target.rows == rows, "calibration groups arrive in the order they were recorded")
        try covariance.add(activations, rows: rows, label: "layer \(layer) pruned wo_input")
        try target.elements.withUnsafeBufferPointer { try cross.add(activations, $0, rows: rows, label: "layer \(layer) pruned wo_input") }
        next += 1
    }
}
