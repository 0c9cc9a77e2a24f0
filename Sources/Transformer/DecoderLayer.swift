import LinAlg

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

extension DecoderLayer {
    /// Stands in a streamed model's layer list for a layer whose weights are still in the
    /// checkpoint (or already written out): it has no weights and must not run.
    public static let unloaded = DecoderLayer(
        attentionNorm: [], attention: Attention(numHeads: 0, numKVHeads: 0, kvHeadOfQueryHead: [], qkHeadDim: 0, vHeadDim: 0,
                                                ropeInverseFrequencies: [], wq: Matrix(rows: 0, cols: 0), wk: Matrix(rows: 0, cols: 0),
                                                wv: Matrix(rows: 0, cols: 0), wo: Matrix(rows: 0, cols: 0)),
        mlpNorm: [], mlp: MLP(wGate: Matrix(rows: 0, cols: 0), wUp: Matrix(rows: 0, cols: 0), wDown: Matrix(rows: 0, cols: 0), activation: .silu))

    /// Whether this is `unloaded` (a layer without weights).
    public var isUnloaded: Bool { attention.numHeads == 0 && attentionNorm.isEmpty }
}
