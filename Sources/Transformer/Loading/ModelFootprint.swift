/// What a model occupies in Float32, from its config alone (no weight is read), so that a
/// run can be planned, held resident or streamed, or refused before it loads anything.
/// Norms are counted; a pruned checkpoint's per-layer shapes are its own.
public struct ModelFootprint: Sendable, Equatable {
    /// Parameters of each decoder layer.
    public let layerParameters: [Int]
    public let embeddingParameters: Int
    /// 0 when the head is tied to the embedding.
    public let headParameters: Int

    public init(config: ModelConfig) {
        let d = config.hiddenSize, headDim = config.resolvedHeadDim
        let norms = config.architecture?.huggingFace.layer
        layerParameters = (0..<config.numHiddenLayers).map { index in
            let spec = config.prunedLayers?[index]
            let heads = spec?.numAttentionHeads ?? config.numAttentionHeads, kvHeads = spec?.numKeyValueHeads ?? config.numKeyValueHeads
            let dqk = spec?.qkHeadDim ?? headDim, dv = spec?.vHeadDim ?? headDim
            let f = spec?.intermediateSize ?? config.intermediateSize
            let qkv = (heads + kvHeads) * dqk + kvHeads * dv
            // Biases a config does not announce (Qwen2's) are a few thousand values; left out.
            let biases = config.attentionBias == true ? qkv : 0
            let normWidths = [(norms?.postAttentionNorm, d), (norms?.postMLPNorm, d), (norms?.queryNorm, dqk), (norms?.keyNorm, dqk)]
            let extraNorms = normWidths.reduce(0) { $0 + ($1.0 == nil ? 0 : $1.1) }
            return qkv * d + biases + d * heads * dv + 3 * d * f + 2 * d + extraNorms
        }
        embeddingParameters = config.vocabSize * d
        headParameters = config.tieWordEmbeddings ?? true ? 0 : config.vocabSize * d
    }

    public var decoderParameters: Int { layerParameters.reduce(0, +) }
    public var largestLayerBytes: Int { 4 * (layerParameters.max() ?? 0) }
    /// Embedding and head, which stay resident either way.
    public var outsideLayersBytes: Int { 4 * (embeddingParameters + headParameters) }

    /// Every layer held in Float32.
    public var residentBytes: Int { outsideLayersBytes + 4 * decoderParameters }

    /// One layer in hand: while it is assembled its fused matrices exist twice (the parts
    /// and the concatenation), and its file pages are mapped until released.
    public var streamedBytes: Int { outsideLayersBytes + 5 * largestLayerBytes / 2 }
}
