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
    /// Which heads go, and so how many KV groups and rotary pairs a layer keeps within its
    /// ratio, is chosen from the calibration windows.
    var shapesFollowRatio: Bool { false }

    func check(_ adapter: ArchitectureAdapter) throws {}

    func prune(_ model: inout TransformerModel, context: PruningContext) throws -> PruningStatistics {
        let flow = try context.calibrationFlow(model, for: name)
        var statistics = PruningStatistics()
        let start = try context.resume(&model, flow: flow, statistics: &statistics).nextLayer
        for index in start..<model.layers.count {
            try context.enter(index, &model)
            let original = model.layers[index]
            let budget = context.budget(for: original, index: index)
            let middle = try pruneAttention(index, &model, flow: flow, ratio: budget.attentionRatio, context: context, statistics: &statistics)
            let outputs = try pruneMLP(index, &model, flow: flow, middle: middle, budget: budget, context: context, statistics: &statistics)
            flow.advance(to: outputs)
            let a = model.layers[index].attention
            context.progress("layer \(index + 1)/\(model.layers.count): \(a.numHeads)/\(original.attention.numHeads) heads of "
                             + "\(a.vHeadDim) (Q/K \(a.qkHeadDim)), \(model.layers[index].mlp.width)/\(original.mlp.width) MLP channels")
            try context.layerFinished(index, model: &model, flow: flow, statistics: statistics)
        }
        return statistics
    }

    /// Steps 1 and 2; returns the stream after the pruned attention (the MLP's input).
    private func pruneAttention(_ index: Int, _ model: inout TransformerModel, flow: CalibrationFlow, ratio: Double, context: PruningContext,
                                statistics: inout PruningStatistics) throws -> GroupedRows {
        let layer = model.layers[index], original = layer.attention
        let observer = IntraSliceAttention.Observer(layer: index, attention: original)
        let unprunedInputs = try flow.outputProjectionInputs(model, observer: observer)
        let width = original.outputInputWidth
        let fromGramSums = Self.errorFromGramSums(width: width, rows: flow.rowCount,
                                                  linear: layer.postAttentionNorm == nil && layer.attentionShortcut == nil)
        let step = IntraSliceAttention(layer: index, keep: width - Int((ratio * Double(width)).rounded(.toNearestOrEven)),
                                       prunesQueryKeyPairs: ArchitectureAdapter(model).queryKeyPairObstacle == nil)
        context.recordCovariance(&statistics, layer: index, site: .outputProjectionInput, sum: observer.covariance.matrix, rows: flow.rowCount)
        let heads = try step.planHeads(original, covariance: observer.covariance.matrix)
        let pairs = step.planPairs(original, keptHeads: heads.keptHeads, headSize: heads.headSize, products: observer.queryKeyProducts)
        statistics.record(layer: index, site: .outputProjectionInput, "channel_scores", heads.scores)
        statistics.record(layer: index, site: .outputProjectionInput, "kept_query_heads", heads.keptHeads)
        statistics.record(layer: index, site: .outputProjectionInput, "head_size", [heads.headSize])
        for (g, kept) in pairs { statistics.record(layer: index, site: .queryKeyValue, "rope_pairs_kv_head_\(g)", kept) }

        let queryKeyPruned = step.queryKeyPruned(original, plan: .init(keptHeads: heads.keptHeads, headSize: heads.headSize, pairs: pairs))
        model.layers[index].attention = queryKeyPruned
        let fit = PairedOutputs(layer: index, targets: unprunedInputs, targetWidth: width, prunedWidth: queryKeyPruned.outputInputWidth)
        let prunedInputs = try flow.outputProjectionInputs(model, observer: fit)
        let unchanged = queryKeyPruned.numHeads == original.numHeads && queryKeyPruned.qkHeadDim == original.qkHeadDim
        let folded = try step.fold(queryKeyPruned, original: original, headSize: heads.headSize, compressedCovariance: fit.covariance.matrix,
                                   cross: fit.cross.matrix, queryKeyUnchanged: unchanged, statistics: &statistics)
        model.layers[index].attention = folded.attention
        // The folded attention's Wo inputs are X̃·P: no third run of the attention is needed.
        let projection = folded.projection.asFloat
        let middle = try flow.rows(count: prunedInputs.count) { g in
            try model.completeAttention(index, woInput: matmul(prunedInputs.group(g), projection), residual: flow.states.group(g))
        }
        let error = fromGramSums
            ? relativeError(pruned: matmul(folded.projection, folded.attention.wo.asDouble, transposeB: true), unpruned: original.wo.asDouble.transposed,
                            prunedGram: fit.covariance.matrix, cross: fit.cross.matrix, unprunedGram: observer.covariance.matrix)
            : try relativeError(middle, base: flow.states) { g in
                try layer.completeAttention(woInput: unprunedInputs.group(g), residual: flow.states.group(g), index: index, norm: model.streamNorm)
            }
        statistics.record(layer: index, site: .outputProjectionInput, "relative_output_error", [error])
        return middle
    }

    /// Step 3; returns the layer's outputs.
    private func pruneMLP(_ index: Int, _ model: inout TransformerModel, flow: CalibrationFlow, middle: GroupedRows, budget: LayerBudget,
                          context: PruningContext, statistics: inout PruningStatistics) throws -> GroupedRows {
        let layer = model.layers[index], original = layer.mlp
        let recorder = SiteRecorder(layer: index, site: .downProjectionInput, products: .float32)
        let inputs = try flow.downProjectionInputs(model, middle: middle, observer: recorder)
        let removed = budget.mlpChannelsRemoved(afterAttention: layer.attention)
        // The error's Gram sum is C itself, kept only when the error is taken from it (the MLP
        // step frees it otherwise).
        let gram = Self.errorFromGramSums(width: original.width, rows: flow.rowCount,
                                          linear: layer.postMLPNorm == nil && layer.mlpShortcut == nil) ? recorder.takeSum() : nil
        let sum = gram ?? recorder.takeSum()
        context.recordCovariance(&statistics, layer: index, site: .downProjectionInput, sum: sum, rows: flow.rowCount)
        let pruned = try IntraSliceMLP(layer: index, compensation: options.mlpCompensation)
            .prune(original, removed: removed, covariance: consume sum, statistics: &statistics)
        model.layers[index].mlp = pruned.mlp
        let outputs = try flow.outputsKeeping(pruned.kept, of: model, downInputs: inputs, middle: middle)
        let error = try gram.map { c in
            relativeError(pruned: pruned.mlp.wDown.asDouble.transposed, unpruned: original.wDown.asDouble.transposed,
                          prunedGram: c.submatrix(rows: pruned.kept, columns: pruned.kept), cross: c.selectingRows(pruned.kept), unprunedGram: c)
        } ?? relativeError(outputs, base: middle) { g in
            try layer.completeMLP(downInput: inputs.group(g), residual: middle.group(g), index: index, norm: model.streamNorm)
        }
        statistics.record(layer: index, site: .downProjectionInput, "relative_output_error", [error])
        return outputs
    }

    /// Whether a module's recorded error comes from the Gram sums the method has anyway
    /// (`relativeError(pruned:…)`) rather than from running the unpruned module again over
    /// the calibration rows. The sums serve only a module that adds x·B to the stream (no
    /// post-norm, no shortcut), and cost 2·d·(n'² + n'·n + n²) Float64 flops for an input
    /// n wide, against 2·t·n·d Float32 flops for t rows: the sums win when t > 6n (SmolLM2
    /// with 262,144 calibration rows), the rows when n is wide (a 7B MLP: a minute a layer
    /// in sums, 3 s in rows). `PruningJob.work` counts the same choice.
    static func errorFromGramSums(width n: Int, rows t: Int, linear: Bool) -> Bool { linear && 6 * n < t }

    /// Σ‖x̃·A − x·B‖² / Σ‖x·B‖² over the calibration rows, for a module that adds x·B to the
    /// stream and its pruned form x̃·A, from C̃ = Σ x̃ᵀx̃, R = Σ x̃ᵀx and C = Σ xᵀx:
    /// (tr AᵀC̃A − 2·tr AᵀRB + tr BᵀCB) / tr BᵀCB.
    private func relativeError(pruned a: Matrix<Double>, unpruned b: Matrix<Double>, prunedGram: Matrix<Double>,
                               cross: Matrix<Double>, unprunedGram: Matrix<Double>) -> Double {
        func trace(_ x: Matrix<Double>, _ m: Matrix<Double>, _ y: Matrix<Double>) -> Double {
            zip(matmul(m, y).elements, x.elements).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let signal = trace(b, unprunedGram, b)
        let error = trace(a, prunedGram, a) - 2 * trace(a, cross, b) + signal
        return signal > 0 ? max(0, error) / signal : 0
    }

    /// ‖(y − base) − (ref − base)‖² / ‖ref − base‖² = ‖y − ref‖² / ‖ref − base‖² summed over the
    /// calibration groups: the error of a module's contribution to the residual stream, relative
    /// to the unpruned contribution. The unpruned module's output for group g comes from
    /// `reference(g)`, one group at a time, so no second copy of the stream is held.
    private func relativeError(_ y: GroupedRows, base: GroupedRows, reference: (Int) throws -> Matrix<Float>) throws -> Double {
        var error = 0.0, signal = 0.0
        for g in y.indices {
            let r = try reference(g)
            let yg = try y.group(g), bg = try base.group(g)
            yg.elements.withUnsafeBufferPointer { pa in
                r.elements.withUnsafeBufferPointer { pr in
                    bg.elements.withUnsafeBufferPointer { pb in
                        for i in 0..<pa.count {
                            let e = Double(pa[i] - pr[i]), s = Double(pr[i] - pb[i])
                            error += e * e
                            signal += s * s
                        }
                    }
                }
            }
        }
        return signal > 0 ? error / signal : 0
    }
}

/// Σ X̃ᵀX̃ and Σ X̃ᵀX for the pruned attention's Wo inputs X̃, paired group by group with the
/// unpruned attention's X recorded on the same rows.
private final class PairedOutputs: ActivationObserver {
    let layer: Int
    let targets: GroupedRows
    var covariance: CovarianceAccumulator
    var cross: CrossProductAccumulator
    private var next = 0

    init(layer: Int, targets: GroupedRows, targetWidth: Int, prunedWidth: Int) {
        self.layer = layer
        self.targets = targets
        covariance = CovarianceAccumulator(dimension: prunedWidth, products: .float32)
        cross = CrossProductAccumulator(leftDimension: prunedWidth, rightDimension: targetWidth, products: .float32)
    }

    func wants(layer: Int, site: CaptureSite) -> Bool { layer == self.layer && site == .outputProjectionInput }

    func observe(layer: Int, site: CaptureSite, activations: UnsafeBufferPointer<Float>, rows: Int, width: Int) throws {
        let target = try targets.group(next)
        precondition(target.rows == rows, "calibration groups arrive in the order they were recorded")
        try covariance.add(activations, rows: rows, label: "layer \(layer) pruned wo_input")
        try target.elements.withUnsafeBufferPointer { try cross.add(activations, $0, rows: rows, label: "layer \(layer) pruned wo_input") }
        next += 1
    }
}
