import LinAlg
import Transformer

/// Row and column surgery on the canonical layer layout, so that methods say what to keep
/// and never index fused weights themselves.
extension MLP {
    /// Keeps the listed channels (gate and up rows, down columns) in the given order.
    mutating func keepChannels(_ kept: [Int]) {
        let f = width
        wGateUp = wGateUp.selectingRows(kept + kept.map { $0 + f })
        wDown = wDown.selectingColumns(kept)
    }
}

extension Attention {
    var wq: Matrix<Float> { wqkv.selectingRows(Array(0..<queryWidth)) }
    var wk: Matrix<Float> { wqkv.selectingRows(Array(queryWidth..<(queryWidth + keyWidth))) }
    var wv: Matrix<Float> { wqkv.selectingRows(Array((queryWidth + keyWidth)..<fusedWidth)) }
    var bq: [Float]? { bqkv.map { Array($0[0..<queryWidth]) } }
    var bk: [Float]? { bqkv.map { Array($0[queryWidth..<(queryWidth + keyWidth)]) } }
    var bv: [Float]? { bqkv.map { Array($0[(queryWidth + keyWidth)..<fusedWidth]) } }

    /// The query heads that read KV head `g`.
    func queryHeads(ofKVHead g: Int) -> [Int] { (0..<numHeads).filter { kvHeadOfQueryHead[$0] == g } }

    /// Rows of head `h` in a [heads·size, …] matrix, or columns in a […, heads·size] one.
    static func span(head h: Int, size: Int) -> [Int] { Array((h * size)..<((h + 1) * size)) }

    /// The spans of `heads`, in their order.
    static func spans(heads: [Int], size: Int) -> [Int] { heads.flatMap { span(head: $0, size: size) } }

    /// A new attention with the same kind (window, scale, q/k norms) and these weights.
    func rebuilt(numHeads: Int, numKVHeads: Int, kvHeadOfQueryHead: [Int], qkHeadDim: Int, vHeadDim: Int,
                 ropeInverseFrequencies: [Float], wq: Matrix<Float>, wk: Matrix<Float>, wv: Matrix<Float>,
                 bq: [Float]?, bk: [Float]?, bv: [Float]?, wo: Matrix<Float>) -> Attention {
        Attention(numHeads: numHeads, numKVHeads: numKVHeads, kvHeadOfQueryHead: kvHeadOfQueryHead, qkHeadDim: qkHeadDim,
                  vHeadDim: vHeadDim, ropeInverseFrequencies: ropeInverseFrequencies, slidingWindow: slidingWindow, scale: scale,
                  wq: wq, wk: wk, wv: wv, bq: bq, bk: bk, bv: bv, qNorm: qNorm, kNorm: kNorm, wo: wo)
    }

    /// Keeps the listed query heads (in order) and the KV heads they read; a KV head goes
    /// only when none of its query heads stays.
    func keepingQueryHeads(_ heads: [Int]) -> Attention {
        let kvHeads = Array(Set(heads.map { kvHeadOfQueryHead[$0] })).sorted()
        let newIndex = Dictionary(uniqueKeysWithValues: kvHeads.enumerated().map { ($1, $0) })
        let qRows = Self.spans(heads: heads, size: qkHeadDim)
        let kRows = Self.spans(heads: kvHeads, size: qkHeadDim)
        let vRows = Self.spans(heads: kvHeads, size: vHeadDim)
        return rebuilt(numHeads: heads.count, numKVHeads: kvHeads.count, kvHeadOfQueryHead: heads.map { newIndex[kvHeadOfQueryHead[$0]]! },
                       qkHeadDim: qkHeadDim, vHeadDim: vHeadDim, ropeInverseFrequencies: ropeInverseFrequencies,
                       wq: wq.selectingRows(qRows), wk: wk.selectingRows(kRows), wv: wv.selectingRows(vRows),
                       bq: bq.map { b in qRows.map { b[$0] } }, bk: bk.map { b in kRows.map { b[$0] } }, bv: bv.map { b in vRows.map { b[$0] } },
                       wo: wo.selectingColumns(Self.spans(heads: heads, size: vHeadDim)))
    }
}

/// Multiples of 8 keep matrix shapes friendly to SIMD and BLAS kernels.
func roundedDownToEight(_ n: Int) -> Int { n - n % 8 }
