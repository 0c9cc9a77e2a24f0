import LinAlg
import Transformer

/// Small random models of each architecture family, built directly from weights.
public enum TinyModels {
    static func random(_ rows: Int, _ cols: Int, _ rng: inout SeededGenerator, scale: Float = 0.3) -> Matrix<Float> {
        var m = Matrix<Float>.random(rows: rows, cols: cols, using: &rng)
        for i in m.elements.indices { m.elements[i] *= scale }
        return m
    }

    static func vector(_ n: Int, _ rng: inout SeededGenerator, around center: Float = 1) -> [Float] {
        (0..<n).map { _ in center + Float.random(in: -0.2..<0.2, using: &rng) }
    }

    /// `variant`: "llama" (SwiGLU, no bias), "qwen2" (q/k/v bias), "gemma3" (q/k norms,
    /// post norms, GeGLU, embedding scale, sliding window on layers 0 and 1),
    /// "pruned" (layers of different head counts, head sizes, a non-uniform KV map).
    public static func model(_ variant: String, seed: UInt64 = 1) -> TransformerModel {
        var rng = SeededGenerator(seed: seed)
        let d = 24, vocabulary = 50, layerCount = 3
        var layers: [DecoderLayer] = []
        for index in 0..<layerCount {
            var heads = 4, kvHeads = 2, dqk = 6, dv = 6, f = 40
            var kvMap: [Int]? = nil
            var frequencies = RoPE.inverseFrequencies(headDim: dqk, base: 10_000, scaling: nil)
            if variant == "pruned" && index == 1 {
                heads = 3; kvHeads = 2; dqk = 4; dv = 5; f = 32
                kvMap = [0, 0, 1]
                let full = RoPE.inverseFrequencies(headDim: 6, base: 10_000, scaling: nil)
                frequencies = [full[0], full[2]]  // kept rotary pairs 0 and 2
            }
            let gemma = variant == "gemma3"
            let qwen = variant == "qwen2"
            let attention = Attention(
                numHeads: heads, numKVHeads: kvHeads, kvHeadOfQueryHead: kvMap, qkHeadDim: dqk, vHeadDim: dv,
                ropeInverseFrequencies: frequencies, slidingWindow: gemma && index < 2 ? 3 : nil,
                scale: gemma ? 0.5 : nil,
                wq: random(heads * dqk, d, &rng), wk: random(kvHeads * dqk, d, &rng), wv: random(kvHeads * dv, d, &rng),
                bq: qwen ? vector(heads * dqk, &rng, around: 0) : nil, bk: qwen ? vector(kvHeads * dqk, &rng, around: 0) : nil,
                bv: qwen ? vector(kvHeads * dv, &rng, around: 0) : nil,
                qNorm: gemma ? vector(dqk, &rng) : nil, kNorm: gemma ? vector(dqk, &rng) : nil,
                wo: random(d, heads * dv, &rng))
            let mlp = MLP(wGate: random(f, d, &rng), wUp: random(f, d, &rng), wDown: random(d, f, &rng),
                          activation: gemma ? .geluTanh : .silu)
            layers.append(DecoderLayer(attentionNorm: vector(d, &rng), attention: attention,
                                       postAttentionNorm: gemma ? vector(d, &rng) : nil, mlpNorm: vector(d, &rng), mlp: mlp,
                                       postMLPNorm: gemma ? vector(d, &rng) : nil))
        }
        let config = ModelConfig(modelType: variant == "gemma3" ? "gemma3" : variant == "qwen2" ? "qwen2" : "llama",
                                 hiddenSize: d, intermediateSize: 40, numHiddenLayers: layerCount, numAttentionHeads: 4,
                                 numKeyValueHeads: 2, vocabSize: vocabulary, rmsNormEps: 1e-6, ropeTheta: 10_000)
        return TransformerModel(config: config, architecture: config.architecture!, embedding: random(vocabulary, d, &rng, scale: 1),
                                embeddingScale: variant == "gemma3" ? Float(d).squareRoot() : 1, layers: layers,
                                finalNorm: vector(d, &rng), lmHead: variant == "qwen2" ? random(vocabulary, d, &rng) : nil,
                                normEps: 1e-6)
    }
}

extension TinyModels {
    /// A llama-shaped model wide enough that its products are cut into tiles for the
    /// workers (hidden 256, 8 heads in 4 KV groups of size 32, MLP 512, 2 layers).
    public static func wide(seed: UInt64 = 1) -> TransformerModel {
        var rng = SeededGenerator(seed: seed)
        let d = 256, vocabulary = 300, heads = 8, kvHeads = 4, dh = 32, f = 512
        let layers = (0..<2).map { _ in
            DecoderLayer(attentionNorm: vector(d, &rng),
                         attention: Attention(numHeads: heads, numKVHeads: kvHeads, qkHeadDim: dh, vHeadDim: dh,
                                              ropeInverseFrequencies: RoPE.inverseFrequencies(headDim: dh, base: 10_000, scaling: nil),
                                              wq: random(heads * dh, d, &rng, scale: 0.1), wk: random(kvHeads * dh, d, &rng, scale: 0.1),
                                              wv: random(kvHeads * dh, d, &rng, scale: 0.1), wo: random(d, heads * dh, &rng, scale: 0.1)),
                         mlpNorm: vector(d, &rng),
                         mlp: MLP(wGate: random(f, d, &rng, scale: 0.1), wUp: random(f, d, &rng, scale: 0.1),
                                  wDown: random(d, f, &rng, scale: 0.1), activation: .silu))
        }
        let config = ModelConfig(modelType: "llama", hiddenSize: d, intermediateSize: f, numHiddenLayers: layers.count,
                                 numAttentionHeads: heads, numKeyValueHeads: kvHeads, vocabSize: vocabulary, rmsNormEps: 1e-6,
                                 ropeTheta: 10_000)
        return TransformerModel(config: config, architecture: .llama, embedding: random(vocabulary, d, &rng, scale: 1), layers: layers,
                                finalNorm: vector(d, &rng), lmHead: nil, normEps: 1e-6)
    }
}
