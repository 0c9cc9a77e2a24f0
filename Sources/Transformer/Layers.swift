import LinAlg

/// The gated MLP non-linearities.
public enum Activation: String, Sendable {
    /// SwiGLU: silu(gate) · up (Llama, Qwen2, Phi-3).
    case silu
    /// GeGLU with the tanh approximation of GELU (Gemma 3's gelu_pytorch_tanh).
    case geluTanh
}

/// Self-attention of one layer. Weights keep HuggingFace's [out, in] layout and are used
/// as y = x·Wᵀ. Q, K and V are fused into one matrix so one sgemm computes all three.
/// Shapes are per layer (pruned models differ from layer to layer and head to head
/// group), so everything is stated here rather than taken from the config.
public struct Attention: Sendable {
    public var numHeads: Int
    public var numKVHeads: Int
    /// Query head h reads key/value head `kvHeadOfQueryHead[h]` (GQA; not uniform once
    /// pruning removed some query heads of a group).
    public var kvHeadOfQueryHead: [Int]
    /// Size of a query/key head: twice the number of rotary pairs kept.
    public var qkHeadDim: Int
    /// Size of a value head (and of each head's slice of the Wo input).
    public var vHeadDim: Int
    /// One inverse frequency per rotary pair of a query/key head, in head order; after
    /// IntraSlice's pair pruning, one such list per KV head, concatenated (each KV group
    /// keeps its own pairs).
    public var ropeInverseFrequencies: [Float]
    /// Keys further back than this many positions are masked (Gemma 3 local layers).
    public var slidingWindow: Int?
    public var scale: Float
    /// [H·dqk + G·dqk + G·dv, D]: query heads, then key heads, then value heads.
    public var wqkv: Matrix<Float>
    public var bqkv: [Float]?
    /// Per-head RMSNorm weights on queries and keys (Gemma 3), of size dqk.
    public var qNorm: [Float]?
    public var kNorm: [Float]?
    /// [D, H·dv]
    public var wo: Matrix<Float>

    public init(numHeads: Int, numKVHeads: Int, kvHeadOfQueryHead: [Int]? = nil, qkHeadDim: Int, vHeadDim: Int,
                ropeInverseFrequencies: [Float], slidingWindow: Int? = nil, scale: Float? = nil,
                wq: Matrix<Float>, wk: Matrix<Float>, wv: Matrix<Float>,
                bq: [Float]? = nil, bk: [Float]? = nil, bv: [Float]? = nil,
                qNorm: [Float]? = nil, kNorm: [Float]? = nil, wo: Matrix<Float>) {
        precondition(wq.rows == numHeads * qkHeadDim && wk.rows == numKVHeads * qkHeadDim && wv.rows == numKVHeads * vHeadDim,
                     "attention weights do not match \(numHeads) heads / \(numKVHeads) KV heads of \(qkHeadDim)/\(vHeadDim)")
        precondition(wo.cols == numHeads * vHeadDim, "Wo has \(wo.cols) inputs, expected \(numHeads * vHeadDim)")
        precondition(ropeInverseFrequencies.count == qkHeadDim / 2 || ropeInverseFrequencies.count == numKVHeads * qkHeadDim / 2,
                     "\(ropeInverseFrequencies.count) RoPE frequencies for \(numKVHeads) KV heads of size \(qkHeadDim)")
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.kvHeadOfQueryHead = kvHeadOfQueryHead ?? (0..<numHeads).map { $0 / max(1, numHeads / numKVHeads) }
        self.qkHeadDim = qkHeadDim
        self.vHeadDim = vHeadDim
        self.ropeInverseFrequencies = ropeInverseFrequencies
        self.slidingWindow = slidingWindow
        self.scale = scale ?? 1 / Float(qkHeadDim).squareRoot()
        wqkv = Matrix(rows: wq.rows + wk.rows + wv.rows, cols: wq.cols, elements: wq.elements + wk.elements + wv.elements)
        if bq != nil || bk != nil || bv != nil {
            bqkv = (bq ?? [Float](repeating: 0, count: wq.rows)) + (bk ?? [Float](repeating: 0, count: wk.rows))
                + (bv ?? [Float](repeating: 0, count: wv.rows))
        }
        self.qNorm = qNorm
        self.kNorm = kNorm
        self.wo = wo
    }

    /// Which frequency list each query head and each KV head rotates with, when there is
    /// one per KV head; nil when all heads share one.
    var ropeSegments: (queryHeads: [Int], kvHeads: [Int])? {
        guard numKVHeads > 1, ropeInverseFrequencies.count == numKVHeads * qkHeadDim / 2 else { return nil }
        return (kvHeadOfQueryHead, Array(0..<numKVHeads))
    }

    public var queryWidth: Int { numHeads * qkHeadDim }
    public var keyWidth: Int { numKVHeads * qkHeadDim }
    public var valueWidth: Int { numKVHeads * vHeadDim }
    public var fusedWidth: Int { queryWidth + keyWidth + valueWidth }
    /// Width of the Wo input (the concatenated head outputs).
    public var outputInputWidth: Int { numHeads * vHeadDim }

    public var parameterCount: Int { wqkv.elements.count + (bqkv?.count ?? 0) + (qNorm?.count ?? 0) + (kNorm?.count ?? 0) + wo.elements.count }
}

/// The gated MLP: out = Wdown·(act(Wgate·x) ⊙ Wup·x); gate and up fused into one matrix.
public struct MLP: Sendable {
    /// [2F, D]: the F gate rows, then the F up rows.
    public var wGateUp: Matrix<Float>
    /// [D, F]
    public var wDown: Matrix<Float>
    public var activation: Activation

    public init(wGate: Matrix<Float>, wUp: Matrix<Float>, wDown: Matrix<Float>, activation: Activation) {
        precondition(wGate.rows == wUp.rows && wGate.cols == wUp.cols && wDown.cols == wGate.rows, "MLP weights do not match")
        wGateUp = Matrix(rows: 2 * wGate.rows, cols: wGate.cols, elements: wGate.elements + wUp.elements)
        self.wDown = wDown
        self.activation = activation
    }

    public var width: Int { wDown.cols }
    public var parameterCount: Int { wGateUp.elements.count + wDown.elements.count }
}

/// One decoder block: x + Attn(N1(x)), then + MLP(N2(·)); Gemma 3 also normalises each
/// module's output before it joins the residual stream.
///
/// SliceGPT rotates the residual stream into a different basis before and after each
/// module and slices it, so a block may change the stream's width: the shortcut matrices
/// carry the residual from one basis to the next (x·Sᵀ + module output).
public struct DecoderLayer: Sendable {
    public var attentionNorm: [Float]
    public var attention: Attention
    public var postAttentionNorm: [Float]?
    public var mlpNorm: [Float]
    public var mlp: MLP
    public var postMLPNorm: [Float]?
    /// [middle width, input width]: the residual's map into the attention output's basis.
    public var attentionShortcut: Matrix<Float>?
    /// [output width, middle width]: the residual's map into the MLP output's basis.
    public var mlpShortcut: Matrix<Float>?

    public init(attentionNorm: [Float], attention: Attention, postAttentionNorm: [Float]? = nil,
                mlpNorm: [Float], mlp: MLP, postMLPNorm: [Float]? = nil,
                attentionShortcut: Matrix<Float>? = nil, mlpShortcut: Matrix<Float>? = nil) {
        self.attentionNorm = attentionNorm
        self.attention = attention
        self.postAttentionNorm = postAttentionNorm
        self.mlpNorm = mlpNorm
        self.mlp = mlp
        self.postMLPNorm = postMLPNorm
        self.attentionShortcut = attentionShortcut
        self.mlpShortcut = mlpShortcut
    }

    /// Widths of the residual stream entering the block, between its modules, leaving it.
    public var inputWidth: Int { attention.wqkv.cols }
    public var middleWidth: Int { attention.wo.rows }
    public var outputWidth: Int { mlp.wDown.rows }

    public var shortcutParameterCount: Int { (attentionShortcut?.elements.count ?? 0) + (mlpShortcut?.elements.count ?? 0) }

    public var parameterCount: Int {
        attentionNorm.count + attention.parameterCount + (postAttentionNorm?.count ?? 0)
            + mlpNorm.count + mlp.parameterCount + (postMLPNorm?.count ?? 0) + shortcutParameterCount
    }
}

/// A decoder-only transformer with the weights in Float32.
public struct TransformerModel: Sendable {
    public var config: ModelConfig
    public var architecture: Architecture
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

    public init(config: ModelConfig, architecture: Architecture, embedding: Matrix<Float>, embeddingScale: Float = 1,
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
