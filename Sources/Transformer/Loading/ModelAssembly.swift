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

/// The embedding and the untied LM head as a loader reads them (a streamed prune reads them
/// again for the write instead of holding them while it works on the layers).
public struct VocabularyMatrices {
    public let embedding: Matrix<Float>
    public let lmHead: Matrix<Float>?

    var parts: (Matrix<Float>, Matrix<Float>?) { (embedding, lmHead) }
}

/// Turns a validated config (`ModelConfig.validate`, which each loader calls before it
/// uses the config) and canonical tensors into a `TransformerModel`; shared by the GGUF
/// and safetensors loaders so that both build layers the same way. Head counts and
/// sizes are read off the weights, so pruned checkpoints load through the same path.
struct ModelAssembly {
    let config: ModelConfig
    let family: ArchitectureFamily
    /// Per-pair divisors of the RoPE frequencies (GGUF `rope_freqs.weight`, Llama 3.1).
    let ropeFactors: [Float]?
    /// The file or folder the tensors came from, for errors.
    let source: String

    /// The whole model, every layer converted and held (resident).
    func build(embedding: Matrix<Float>, finalNorm: [Float], lmHead: Matrix<Float>?,
               layer: (Int) throws -> LayerTensors) throws -> TransformerModel {
        try checkEmbedding(embedding)
        var layers: [DecoderLayer] = []
        var width = embedding.cols
        for index in 0..<config.numHiddenLayers {
            layers.append(try self.layer(index, tensors: try layer(index), inputWidth: width))
            width = layers[index].outputWidth
        }
        return try model(embedding: embedding, finalNorm: finalNorm, lmHead: lmHead, layers: layers, lastWidth: width)
    }

    /// The model with `DecoderLayer.unloaded` in place of its layers, which `StreamedLayers`
    /// reads one at a time from the mapped checkpoint (each checked once here).
    func buildStreamed(embedding: Matrix<Float>, finalNorm: [Float], lmHead: Matrix<Float>?,
                       layer: @escaping (Int) throws -> LayerTensors, vocabulary: @escaping () throws -> VocabularyMatrices,
                       releasePages: @escaping () -> Void) throws -> (TransformerModel, StreamedLayers) {
        try checkEmbedding(embedding)
        let streamed = try StreamedLayers(layerCount: config.numHiddenLayers, firstInputWidth: embedding.cols, read: layer,
                                          assemble: { try self.layer($0, tensors: $1, inputWidth: $2) },
                                          vocabulary: { defer { releasePages() }; return try vocabulary() }, releasePages: releasePages)
        let layers = [DecoderLayer](repeating: .unloaded, count: config.numHiddenLayers)
        return (try model(embedding: embedding, finalNorm: finalNorm, lmHead: lmHead, layers: layers, lastWidth: streamed.outputWidth), streamed)
    }

    /// A pruned checkpoint's stream may be narrower than hidden_size (SliceGPT).
    private func checkEmbedding(_ embedding: Matrix<Float>) throws {
        try expect(embedding, rows: config.vocabSize, cols: config.prunedLayers != nil ? embedding.cols : config.hiddenSize, "the embedding")
    }

    /// Layer `index` from its tensors, checked against the shape the config implies for a
    /// stream `inputWidth` wide.
    func layer(_ index: Int, tensors t: LayerTensors, inputWidth width: Int) throws -> DecoderLayer {
        let headDim = config.resolvedHeadDim
        let sliding = config.isSlidingLayer(index)
        let rotation = sliding && config.hasSlidingLayers ? try rotation(config.rope(slidingLayer: true), factors: nil)
            : try rotation(config.rope(slidingLayer: false), factors: ropeFactors)
        let pruned = config.prunedLayers != nil
        let spec = config.prunedLayers?[index]
        let shape = LayerShape(heads: spec?.numAttentionHeads ?? config.numAttentionHeads,
                               kvHeads: spec?.numKeyValueHeads ?? config.numKeyValueHeads,
                               qkHeadDim: spec?.qkHeadDim ?? headDim, vHeadDim: spec?.vHeadDim ?? headDim,
                               intermediate: spec?.intermediateSize ?? config.intermediateSize,
                               input: width, middle: pruned ? t.wo.rows : width, output: pruned ? t.wDown.rows : width)
        try check(t, against: shape, layer: index)
        let attention = Attention(
            numHeads: shape.heads, numKVHeads: shape.kvHeads, kvHeadOfQueryHead: spec?.kvHeadOfQueryHead, qkHeadDim: shape.qkHeadDim,
            vHeadDim: shape.vHeadDim,
            ropeInverseFrequencies: spec?.ropeInverseFrequencies ?? rotation.frequencies,
            slidingWindow: sliding ? config.slidingWindow : nil, scale: spec?.attentionScale ?? rotation.scale,
            wq: t.wq, wk: t.wk, wv: t.wv, bq: t.bq, bk: t.bk, bv: t.bv, qNorm: t.qNorm, kNorm: t.kNorm, wo: t.wo)
        return DecoderLayer(attentionNorm: t.attentionNorm, attention: attention, postAttentionNorm: t.postAttentionNorm,
                            mlpNorm: t.mlpNorm, mlp: MLP(wGate: t.wGate, wUp: t.wUp, wDown: t.wDown, activation: family.activation),
                            postMLPNorm: t.postMLPNorm, attentionShortcut: t.attentionShortcut, mlpShortcut: t.mlpShortcut)
    }

    private func model(embedding: Matrix<Float>, finalNorm: [Float], lmHead: Matrix<Float>?, layers: [DecoderLayer],
                       lastWidth width: Int) throws -> TransformerModel {
        guard finalNorm.count == width else {
            throw ModelFileError(path: source, message: "the last layer leaves \(width) values, the final norm has \(finalNorm.count)")
        }
        if let lmHead { try expect(lmHead, rows: embedding.rows, cols: width, "the LM head") }
        else if embedding.cols != width {
            throw ModelFileError(path: source, message: "the LM head is tied to the embedding, whose rows are \(embedding.cols) wide, "
                                 + "but the last layer leaves \(width) values")
        }
        return TransformerModel(config: config, architecture: family, embedding: embedding,
                                embeddingScale: family.scalesEmbedding ? Float(config.hiddenSize).squareRoot() : 1,
                                layers: layers, finalNorm: finalNorm, lmHead: lmHead, normEps: Float(config.rmsNormEps),
                                residualNormDivisor: config.rmsNormDivisor)
    }

    /// The RoPE frequencies and softmax scale of one kind of layer. The scale is
    /// 1/√`query_pre_attn_scalar` (Gemma) or 1/√head_dim, times the square of LongRoPE's
    /// attention factor: transformers multiplies cos and sin by that factor, which scales
    /// every query·key product by its square.
    private func rotation(_ rope: LayerRope, factors: [Float]?) throws -> (frequencies: [Float], scale: Float) {
        let headDim = config.resolvedHeadDim
        guard let base = rope.base else { throw ModelFileError(path: source, message: "rope_theta is missing") }
        var frequencies = RoPE.inverseFrequencies(headDim: headDim, base: base, scaling: rope.scaling)
        if let factors {
            guard factors.count == frequencies.count, factors.allSatisfy({ $0 > 0 }) else {
                throw ModelFileError(path: source, message: "rope_freqs.weight holds \(factors.count) factors; the head size \(headDim) "
                                     + "needs \(frequencies.count) positive ones")
            }
            frequencies = zip(frequencies, factors).map { $0 / $1 }
        }
        let attentionFactor = RoPE.attentionFactor(scaling: rope.scaling, maxPositionEmbeddings: config.maxPositionEmbeddings)
        var scale = config.queryPreAttnScalar.map { Float(1 / $0.squareRoot()) } ?? 1 / Float(headDim).squareRoot()
        if attentionFactor != 1 { scale *= Float(attentionFactor * attentionFactor) }
        return (frequencies, scale)
    }

    /// The shape a layer's tensors must have: from the config for an ordinary checkpoint,
    /// from the layer's own entry for a pruned one, whose residual widths are those its
    /// neighbours leave (SliceGPT changes them along the way).
    private struct LayerShape {
        let heads, kvHeads, qkHeadDim, vHeadDim, intermediate: Int
        let input, middle, output: Int
    }

    /// Every tensor of the layer against the shape, so that a checkpoint contradicting its
    /// config (a head count, a width, a head size) is refused rather than believed.
    private func check(_ t: LayerTensors, against s: LayerShape, layer index: Int) throws {
        let prefix = "layer \(index): "
        try expect(t.wq, rows: s.heads * s.qkHeadDim, cols: s.input, prefix + "the query projection")
        try expect(t.wk, rows: s.kvHeads * s.qkHeadDim, cols: s.input, prefix + "the key projection")
        try expect(t.wv, rows: s.kvHeads * s.vHeadDim, cols: s.input, prefix + "the value projection")
        try expect(t.wo, rows: s.middle, cols: s.heads * s.vHeadDim, prefix + "the output projection")
        try expect(t.wGate, rows: s.intermediate, cols: s.middle, prefix + "the gate projection")
        try expect(t.wUp, rows: s.intermediate, cols: s.middle, prefix + "the up projection")
        try expect(t.wDown, rows: s.output, cols: s.intermediate, prefix + "the down projection")
        let vectors: [([Float]?, Int, String)] = [
            (t.attentionNorm, s.input, "the attention norm"), (t.mlpNorm, s.middle, "the MLP norm"),
            (t.bq, s.heads * s.qkHeadDim, "the query bias"), (t.bk, s.kvHeads * s.qkHeadDim, "the key bias"),
            (t.bv, s.kvHeads * s.vHeadDim, "the value bias"), (t.qNorm, s.qkHeadDim, "the query norm"),
            (t.kNorm, s.qkHeadDim, "the key norm"), (t.postAttentionNorm, s.middle, "the post-attention norm"),
            (t.postMLPNorm, s.output, "the post-MLP norm"),
        ]
        for (vector, count, name) in vectors {
            if let vector, vector.count != count {
                throw ModelFileError(path: source, message: prefix + "\(name) has \(vector.count) values, expected \(count)")
            }
        }
        if let shortcut = t.attentionShortcut { try expect(shortcut, rows: s.middle, cols: s.input, prefix + "the attention shortcut") }
        else if s.middle != s.input {
            throw ModelFileError(path: source, message: prefix + "the attention output is \(s.middle) wide, the stream \(s.input), and there is no shortcut")
        }
        if let shortcut = t.mlpShortcut { try expect(shortcut, rows: s.output, cols: s.middle, prefix + "the MLP shortcut") }
        else if s.output != s.middle {
            throw ModelFileError(path: source, message: prefix + "the MLP output is \(s.output) wide, the stream \(s.middle), and there is no shortcut")
        }
    }

    private func expect(_ m: Matrix<Float>, rows: Int, cols: Int, _ what: String) throws {
        guard m.rows == rows, m.cols == cols else {
            throw ModelFileError(path: source, message: "\(what) is \(m.rows) × \(m.cols), the config implies \(rows) × \(cols)")
        }
    }
}
