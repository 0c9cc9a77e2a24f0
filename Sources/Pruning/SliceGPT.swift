import Foundation
import LinAlg
import Transformer

/// SliceGPT (Ashkboos et al., 2024): fold the RMSNorm scales into the linears, then, layer
/// by layer on calibration data, rotate the residual stream into the principal basis of
/// its covariance and keep the leading d directions. Each module reads and writes the
/// sliced stream; the residual connection between two differently rotated bases goes
/// through a shortcut matrix Q_prevᵀ·Q_next, stored as a real weight.
///
/// Signals are collected as the reference code collects them: in the original basis of
/// the hidden size D (the module not yet rotated on its output side, the shortcut mapping
/// the sliced input back to D), which makes the PCA independent of earlier choices of basis.
struct SliceGPT: PruningMethod {
    let options: MethodOptions

    var name: String { "slicegpt" }
    var needsCalibration: Bool { true }
    /// One width d for the whole stream, solved from the ratio.
    var shapesFollowRatio: Bool { true }

    func check(_ adapter: ArchitectureAdapter) throws {
        if let obstacle = adapter.rotationObstacle { throw PruningError("slicegpt cannot compress this model: \(obstacle)") }
    }

    func prune(_ model: inout TransformerModel, context: PruningContext) throws -> PruningStatistics {
        let adapter = ArchitectureAdapter(model)
        try check(adapter)
        _ = try context.requireCalibration(name)  // refused before the norms are fused
        let hidden = model.embeddingWidth
        let originalDecoderParameters = model.parameterCounts.decoderLayers
        try adapter.fuseNorms(&model)
        let d = try Self.slicedWidth(model, ratio: context.ratio, originalDecoderParameters: originalDecoderParameters,
                                     sliceHead: options.sliceHead)
        context.progress("slicing the residual stream from \(hidden) to \(d) dimensions")
        model.residualNormDivisor = hidden
        var statistics = PruningStatistics()

        let flow = try context.calibrationFlow(model, for: name)
        let resumed = try context.resume(&model, flow: flow, statistics: &statistics)
        var inputBasis: Matrix<Double>
        if resumed.nextLayer > 0 {
            guard let saved = resumed.extras[Self.inputBasisKey] else { throw PruningError("the saved state lacks SliceGPT's current basis") }
            inputBasis = saved
        } else {
            let embeddingSum = try covariance(of: flow.states, label: "embeddings")
            context.recordCovariance(&statistics, layer: 0, site: .residualIn, sum: embeddingSum, rows: flow.rowCount)
            let embeddingBasis = try PrincipalBasis(covariance: embeddingSum, label: "embeddings")
            inputBasis = embeddingBasis.leading(d)
            record(&statistics, layer: 0, site: .residualIn, embeddingBasis, kept: inputBasis)
            model.embedding = rotate(model.embedding, inputBasis)
            try flow.transformStates(inputBasis.asFloat)
        }

        for index in resumed.nextLayer..<model.layers.count {
            let isLast = index == model.layers.count - 1
            // The attention reads the sliced stream; its shortcut maps that back to D for now.
            model.layers[index].attention.wqkv = rotate(model.layers[index].attention.wqkv, inputBasis)
            model.layers[index].attentionNorm = [Float](repeating: 1, count: inputBasis.cols)
            model.layers[index].attentionShortcut = inputBasis.asFloat
            let middle = try flow.attentionHalf(model)
            let middleSum = try covariance(of: middle, label: "layer \(index) attention output")
            context.recordCovariance(&statistics, layer: index, site: .residualMid, sum: middleSum, rows: flow.rowCount)
            let middleBasis = try PrincipalBasis(covariance: middleSum, label: "layer \(index) attention output")
            let qMiddle = middleBasis.leading(d)
            record(&statistics, layer: index, site: .residualMid, middleBasis, kept: qMiddle)

            model.layers[index].attentionShortcut = matmul(qMiddle, inputBasis, transposeA: true).asFloat
            model.layers[index].attention.wo = matmul(qMiddle, model.layers[index].attention.wo.asDouble, transposeA: true).asFloat
            model.layers[index].mlp.wGateUp = rotate(model.layers[index].mlp.wGateUp, qMiddle)
            model.layers[index].mlpNorm = [Float](repeating: 1, count: d)
            model.layers[index].mlpShortcut = qMiddle.asFloat
            let qMiddleFloat = qMiddle.asFloat
            let slicedMiddle = try middle.map(spill: flow.spill) { matmul($0, qMiddleFloat) }
            let outputs = try flow.mlpHalf(model, middle: slicedMiddle)

            let outputSum = try covariance(of: outputs, label: "layer \(index) output")
            context.recordCovariance(&statistics, layer: index, site: .residualOut, sum: outputSum, rows: flow.rowCount)
            let outputBasis = try PrincipalBasis(covariance: outputSum, label: "layer \(index) output")
            let outputWidth = isLast && !options.sliceHead ? hidden : d
            let qOutput = outputBasis.leading(outputWidth)
            record(&statistics, layer: index, site: .residualOut, outputBasis, kept: qOutput)
            model.layers[index].mlpShortcut = matmul(qOutput, qMiddle, transposeA: true).asFloat
            model.layers[index].mlp.wDown = matmul(qOutput, model.layers[index].mlp.wDown.asDouble, transposeA: true).asFloat
            let qOutputFloat = qOutput.asFloat
            flow.advance(to: try outputs.map(spill: flow.spill) { matmul($0, qOutputFloat) })
            inputBasis = qOutput
            context.progress("layer \(index + 1)/\(model.layers.count): kept \(String(format: "%.4f", middleBasis.varianceKept(d))) "
                             + "and \(String(format: "%.4f", outputBasis.varianceKept(outputWidth))) of the variance")
            try context.layerFinished(index, model: &model, flow: flow, statistics: statistics, extras: [Self.inputBasisKey: inputBasis])
        }
        model.lmHead = rotate(model.lmHead!, inputBasis)
        model.finalNorm = [Float](repeating: 1, count: inputBasis.cols)
        return statistics
    }

    /// W·Q for a weight in the [out, in] layout whose input is rotated by Q ([in, k]), in float64.
    /// The basis the stream entering the next layer is in, carried from layer to layer.
    static let inputBasisKey = "input_basis"

    private func rotate(_ w: Matrix<Float>, _ q: Matrix<Double>) -> Matrix<Float> { matmul(w.asDouble, q).asFloat }

    /// The site's spectrum, the variance its `kept` leading directions hold, and those
    /// directions ([D, d]: the basis the sliced stream is expressed in there, which maps it
    /// back to the original coordinates as x·Qᵀ; `ResidualStreamMap` reads it).
    private func record(_ statistics: inout PruningStatistics, layer: Int, site: CaptureSite, _ basis: PrincipalBasis, kept: Matrix<Double>) {
        statistics.record(layer: layer, site: site, "eigenvalues", basis.eigenvalues)
        statistics.record(layer: layer, site: site, "variance_kept", [basis.varianceKept(kept.cols)])
        statistics.record(layer: layer, site: site, "kept_dimensions", [kept.cols])
        statistics.record(layer: layer, site: site, "basis", kept.elements, shape: [kept.rows, kept.cols])
    }

    /// The sliced width: ⌊(1 − s)·D⌋ rounded down to a multiple of 8 for a slicing ratio; for
    /// a parameter ratio, the multiple of 8 whose decoder-layer parameter count (shortcut
    /// matrices included) comes closest to removing that fraction.
    static func slicedWidth(_ model: TransformerModel, ratio: PruningRatio, originalDecoderParameters: Int, sliceHead: Bool) throws -> Int {
        let hidden = model.embeddingWidth
        switch ratio.kind {
        case .slicing:
            let d = roundedDownToEight(Int((1 - ratio.value) * Double(hidden)))
            guard d >= 8 else { throw PruningError("slicing ratio \(ratio.value) leaves fewer than 8 of \(hidden) dimensions") }
            return d
        case .params:
            let candidates = stride(from: 8, through: hidden, by: 8)
            let target = (1 - ratio.value) * Double(originalDecoderParameters)
            return candidates.min { a, b in
                abs(Double(decoderParameters(model, width: a, sliceHead: sliceHead)) - target)
                    < abs(Double(decoderParameters(model, width: b, sliceHead: sliceHead)) - target)
            }!
        }
    }

    /// Decoder-layer parameters after slicing to `width` (norm-fused model, shortcuts counted).
    static func decoderParameters(_ model: TransformerModel, width d: Int, sliceHead: Bool) -> Int {
        model.layers.enumerated().reduce(0) { total, pair in
            let (index, layer) = pair
            let out = index == model.layers.count - 1 && !sliceHead ? model.embeddingWidth : d
            let a = layer.attention
            let attention = a.fusedWidth * d + (a.bqkv?.count ?? 0) + d * a.outputInputWidth + (a.qNorm?.count ?? 0) + (a.kNorm?.count ?? 0)
            let mlp = 2 * layer.mlp.width * d + out * layer.mlp.width
            return total + attention + mlp + 2 * d + d * d + out * d
        }
    }
}
