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
}

/// Turns a config and canonical tensors into a `TransformerModel`; shared by the GGUF
/// and safetensors loaders so that both build layers the same way. Head counts and
/// sizes are read off the weights, so pruned checkpoints load through the same path.
struct ModelAssembly {
    let config: ModelConfig
    let architecture: Architecture
    /// Per-pair divisors of the RoPE frequencies (GGUF `rope_freqs.weight`, Llama 3.1).
    let ropeFactors: [Float]?

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

        var layers: [DecoderLayer] = []
        for index in 0..<config.numHiddenLayers {
            let t = try layer(index)
            let heads = t.wq.rows / headDim, kvHeads = t.wk.rows / headDim
            let sliding = config.isSlidingLayer(index)
            let attention = Attention(
                numHeads: heads, numKVHeads: kvHeads, qkHeadDim: headDim, vHeadDim: t.wv.rows / kvHeads,
                ropeInverseFrequencies: sliding ? (localFrequencies ?? globalFrequencies) : globalFrequencies,
                slidingWindow: sliding ? config.slidingWindow : nil, scale: scale,
                wq: t.wq, wk: t.wk, wv: t.wv, bq: t.bq, bk: t.bk, bv: t.bv, qNorm: t.qNorm, kNorm: t.kNorm, wo: t.wo)
            layers.append(DecoderLayer(attentionNorm: t.attentionNorm, attention: attention, postAttentionNorm: t.postAttentionNorm,
                                       mlpNorm: t.mlpNorm, mlp: MLP(wGate: t.wGate, wUp: t.wUp, wDown: t.wDown, activation: activation),
                                       postMLPNorm: t.postMLPNorm))
        }
        return TransformerModel(config: config, architecture: architecture, embedding: embedding,
                                embeddingScale: architecture == .gemma3 ? Float(config.hiddenSize).squareRoot() : 1,
                                layers: layers, finalNorm: finalNorm, lmHead: lmHead, normEps: Float(config.rmsNormEps))
    }
}
