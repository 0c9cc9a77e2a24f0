import LinAlg
import ModelIO

/// The tensors of one decoder layer in HuggingFace's layout ([out, in], RoPE half-split),
/// whatever file they came from.
struct LayerTensors {
    var attentionNorm: [Float]
    var wq, wk, wv: Matrix<Float>
    var bq, bk, bv: [Float]?
    var qNorm, kNorm: [Float]?
    var wo: Matrix<Float>
    var postAttentionNorm: [Float]?
    var mlpNorm: [Float]
    var wGate, wUp, wDown: Matrix<Float>
    var postMLPNorm: [Float]?
    /// SliceGPT's residual maps (pruned checkpoints only).
    var attentionShortcut: Matrix<Float>? = nil
    var mlpShortcut: Matrix<Float>? = nil
}

/// Turns a config and canonical tensors into a `TransformerModel`; shared by the GGUF
/// and safetensors loaders so that both build layers the same way. Head counts and
/// sizes are read off the weights, so pruned checkpoints load through the same path.
struct ModelAssembly {
    let config: ModelConfig
    let architecture: Architecture
    /// Per-pair divisors of the RoPE frequencies (GGUF `rope_freqs.weight`, Llama 3.1).
    let ropeFactors: [Float]?
    /// The file or folder the tensors came from, for errors.
    let source: String

    func build(embedding: Matrix<Float>, finalNorm: [Float], lmHead: Matrix<Float>?,
               layer: (Int) throws -> LayerTensors) throws -> TransformerModel {
        let headDim = config.resolvedHeadDim
        var globalFrequencies = RoPE.inverseFrequencies(headDim: headDim, base: config.ropeTheta, scaling: config.ropeScaling)
        if let ropeFactors, ropeFactors.count == globalFrequencies.count {
            globalFrequencies = zip(globalFrequencies, ropeFactors).map { $0 / $1 }
        }
        let localFrequencies = config.ropeLocalBaseFreq.map { RoPE.inverseFrequencies(headDim: headDim, base: $0, scaling: nil) }
        let scale = config.queryPreAttnScalar.map { Float(1 / $0.squareRoot()) }
        let activation: Activation = architecture == .gemma3 ? .geluTanh : .silu

        if let specs = config.prunedLayers, specs.count != config.numHiddenLayers {
            throw ModelFileError(path: source, message: "config lists \(specs.count) pruned layer shapes for \(config.numHiddenLayers) layers")
        }
        var layers: [DecoderLayer] = []
        for index in 0..<config.numHiddenLayers {
            let t = try layer(index)
            let sliding = config.isSlidingLayer(index)
            let frequencies = sliding ? (localFrequencies ?? globalFrequencies) : globalFrequencies
            let spec = config.prunedLayers?[index]
            let heads = spec?.numAttentionHeads ?? t.wq.rows / headDim, kvHeads = spec?.numKeyValueHeads ?? t.wk.rows / headDim
            let qkHeadDim = spec?.qkHeadDim ?? headDim
            guard t.wq.rows == heads * qkHeadDim, t.wk.rows == kvHeads * qkHeadDim, kvHeads > 0, t.wv.rows % kvHeads == 0,
                  t.wo.cols == heads * (t.wv.rows / kvHeads), spec.map({ [qkHeadDim, kvHeads * qkHeadDim].contains(2 * $0.ropeInverseFrequencies.count) }) ?? true,
                  spec.map({ $0.kvHeadOfQueryHead.count == heads && $0.kvHeadOfQueryHead.allSatisfy { $0 >= 0 && $0 < kvHeads } }) ?? true
            else {
                throw ModelFileError(path: source, message: "layer \(index): attention weights (q \(t.wq.rows), k \(t.wk.rows), v \(t.wv.rows), o \(t.wo.cols)) "
                                   + "do not match \(heads) heads / \(kvHeads) KV heads of size \(qkHeadDim)")
            }
            let attention = Attention(
                numHeads: heads, numKVHeads: kvHeads, kvHeadOfQueryHead: spec?.kvHeadOfQueryHead, qkHeadDim: qkHeadDim,
                vHeadDim: t.wv.rows / kvHeads,
                ropeInverseFrequencies: spec?.ropeInverseFrequencies ?? frequencies,
                slidingWindow: sliding ? config.slidingWindow : nil, scale: spec?.attentionScale ?? scale,
                wq: t.wq, wk: t.wk, wv: t.wv, bq: t.bq, bk: t.bk, bv: t.bv, qNorm: t.qNorm, kNorm: t.kNorm, wo: t.wo)
            layers.append(DecoderLayer(attentionNorm: t.attentionNorm, attention: attention, postAttentionNorm: t.postAttentionNorm,
                                       mlpNorm: t.mlpNorm, mlp: MLP(wGate: t.wGate, wUp: t.wUp, wDown: t.wDown, activation: activation),
                                       postMLPNorm: t.postMLPNorm, attentionShortcut: t.attentionShortcut, mlpShortcut: t.mlpShortcut))
        }
        try checkResidualWidths(layers, embeddingWidth: embedding.cols, finalWidth: finalNorm.count)
        return TransformerModel(config: config, architecture: architecture, embedding: embedding,
                                embeddingScale: architecture == .gemma3 ? Float(config.hiddenSize).squareRoot() : 1,
                                layers: layers, finalNorm: finalNorm, lmHead: lmHead, normEps: Float(config.rmsNormEps),
                                residualNormDivisor: config.rmsNormDivisor)
    }

    /// Each module must read the width the residual stream has where it sits (SliceGPT
    /// checkpoints change it along the way); a mismatch would otherwise stop a forward call.
    private func checkResidualWidths(_ layers: [DecoderLayer], embeddingWidth: Int, finalWidth: Int) throws {
        var width = embeddingWidth
        for (index, layer) in layers.enumerated() {
            let attentionFits = layer.inputWidth == width && layer.attentionNorm.count == width
                && (layer.attentionShortcut.map { $0.cols == width && $0.rows == layer.middleWidth } ?? (layer.middleWidth == width))
            let mlpFits = layer.mlpNorm.count == layer.middleWidth && layer.mlp.wGateUp.cols == layer.middleWidth
                && (layer.mlpShortcut.map { $0.cols == layer.middleWidth && $0.rows == layer.outputWidth } ?? (layer.outputWidth == layer.middleWidth))
            guard attentionFits && mlpFits else {
                throw ModelFileError(path: source, message: "layer \(index): the residual stream is \(width) wide there, but the layer's norms, "
                                     + "projections and shortcuts read \(layer.inputWidth)/\(layer.middleWidth)/\(layer.outputWidth)")
            }
            width = layer.outputWidth
        }
        guard width == finalWidth else {
            throw ModelFileError(path: source, message: "the last layer leaves \(width) values, the final norm has \(finalWidth)")
        }
    }
}
