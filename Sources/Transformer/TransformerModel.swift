import LinAlg

/// A decoder-only transformer with the weights in Float32.
public struct TransformerModel: Sendable {
    public var config: ModelConfig
    public var architecture: ArchitectureFamily
    /// [V, D]
    public var embedding: Matrix<Float>
    /// Multiplies embeddings on the way in (√D for Gemma, 1 otherwise).
    public var embeddingScale: Float
    public var layers: [DecoderLayer]
    public var finalNorm: [Float]
    /// [V, D]; nil when the head is tied to the embedding.
    public var lmHead: Matrix<Float>?
    public var normEps: Float
    /// What the residual-stream RMSNorms divide the sum of squares by; nil means the width
    /// of the vector. SliceGPT keeps the original hidden size here after slicing, so that a
    /// sliced vector is normalised as the full one was.
    public var residualNormDivisor: Int?

    public init(config: ModelConfig, architecture: ArchitectureFamily, embedding: Matrix<Float>, embeddingScale: Float = 1,
                layers: [DecoderLayer], finalNorm: [Float], lmHead: Matrix<Float>?, normEps: Float,
                residualNormDivisor: Int? = nil) {
        self.config = config
        self.architecture = architecture
        self.embedding = embedding
        self.embeddingScale = embeddingScale
        self.layers = layers
        self.finalNorm = finalNorm
        self.lmHead = lmHead
        self.normEps = normEps
        self.residualNormDivisor = residualNormDivisor
    }

    /// Width of the final hidden states (what the LM head reads).
    public var hiddenSize: Int { finalNorm.count }
    /// Width of the embedding rows (the residual stream entering layer 0).
    public var embeddingWidth: Int { embedding.cols }
    public var vocabularySize: Int { embedding.rows }
    public var head: Matrix<Float> { lmHead ?? embedding }
    /// The widest the residual stream gets anywhere in the model.
    public var widestResidual: Int {
        layers.reduce(max(embeddingWidth, hiddenSize)) { max($0, $1.inputWidth, $1.middleWidth, $1.outputWidth) }
    }

    /// Replaces the embedding and the untied head by empty matrices of their width: a
    /// streamed prune reads them again from the checkpoint (`StreamedLayers.vocabulary`)
    /// instead of holding them while it works on the layers.
    public mutating func releaseVocabulary() {
        embedding = Matrix(rows: 0, cols: embeddingWidth)
        lmHead = lmHead.map { Matrix(rows: 0, cols: $0.cols) }
    }

    /// Parameters by part, counted from the stored weights. The decoder layers include
    /// their shortcut matrices, which are also reported on their own.
    public var parameterCounts: ParameterCounts {
        let decoder = layers.reduce(0) { $0 + $1.parameterCount }
        let head = lmHead?.elements.count ?? 0
        let embedding = self.embedding.elements.count
        return ParameterCounts(total: decoder + embedding + head + finalNorm.count, decoderLayers: decoder, embedding: embedding,
                               head: head, shortcuts: layers.reduce(0) { $0 + $1.shortcutParameterCount })
    }
}

/// Parameter counts of a model by part (a tied head counts 0: it is the embedding).
public struct ParameterCounts: Sendable, Equatable, Codable {
    public let total: Int
    public let decoderLayers: Int
    public let embedding: Int
    public let head: Int
    public let shortcuts: Int

    public init(total: Int, decoderLayers: Int, embedding: Int, head: Int, shortcuts: Int) {
        self.total = total
        self.decoderLayers = decoderLayers
        self.embedding = embedding
        self.head = head
        self.shortcuts = shortcuts
    }
}
