import LinAlg

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
