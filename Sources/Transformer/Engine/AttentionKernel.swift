import LinAlg

/// Rows of queries processed together: the score block is rows × keys.
let attentionQueryBlock = 128

/// Causal (optionally sliding-window) attention of `queries` query rows at absolute
/// positions `firstQuery…` over keys at positions 0..<`keys`, for one head.
/// Q·Kᵀ and P·V go through sgemm with the callers' strides, so heads are read in place
/// from the fused QKV rows or from the KV cache without copies. Only keys that some
/// query of a block can see are multiplied (the causal upper triangle is skipped).
func attend(q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
            out: UnsafeMutablePointer<Float>, ldo: Int, queries: Int, firstQuery: Int, keys: Int,
            qkDim: Int, vDim: Int, scale: Float, window: Int?, scratch: UnsafeMutablePointer<Float>) {
    var r0 = 0
    while r0 < queries {
        let r1 = min(queries, r0 + attentionQueryBlock)
        let seen = attentionWeights(q: q, ldq: ldq, k: k, ldk: ldk, rows: r0..<r1, firstQuery: firstQuery, keys: keys,
                                    qkDim: qkDim, scale: scale, window: window, into: scratch)
        Float.serialGemm(transposeA: false, transposeB: false, m: r1 - r0, n: vDim, k: seen.count, alpha: 1,
                   a: scratch, lda: seen.count, b: v + seen.lowerBound * ldv, ldb: ldv, beta: 0, c: out + r0 * ldo, ldc: ldo)
        r0 = r1
    }
}

/// The attention weights P of query rows `rows` (a block of at most `attentionQueryBlock`)
/// over the keys some row of the block can see, written to `p` as rows × keys-seen (zero
/// where a row may not look); returns the key range seen. The forward pass multiplies P
/// by V; the reverse pass recomputes it from Q and K instead of storing it.
func attentionWeights(q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, rows: Range<Int>, firstQuery: Int,
                      keys: Int, qkDim: Int, scale: Float, window: Int?, into p: UnsafeMutablePointer<Float>) -> Range<Int> {
    let keyEnd = min(keys, firstQuery + rows.upperBound)
    let keyStart = window.map { max(0, firstQuery + rows.lowerBound - $0 + 1) } ?? 0
    let width = keyEnd - keyStart
    Float.serialGemm(transposeA: false, transposeB: true, m: rows.count, n: width, k: qkDim, alpha: scale,
               a: q + rows.lowerBound * ldq, lda: ldq, b: k + keyStart * ldk, ldb: ldk, beta: 0, c: p, ldc: width)
    for r in rows {
        let position = firstQuery + r
        let low = window.map { max(keyStart, position - $0 + 1) } ?? keyStart
        let high = min(position, keyEnd - 1)
        let row = p + (r - rows.lowerBound) * width
        for j in 0..<(low - keyStart) { row[j] = 0 }
        softmaxInPlace(row + (low - keyStart), count: high - low + 1)
        for j in (high - keyStart + 1)..<width { row[j] = 0 }
    }
    return keyStart..<keyEnd
}

/// Attention of one head over one document of a `PackedSequences` call. Pointers, rows and
/// `positions` are the document's own (row 0 = its first trunk row). Row r sees key c ≤ r
/// when c is a trunk row or lies in r's own branch, and, with a window, when their
/// positions are less than `window` apart. Scores are formed for all keys before each
/// query block and the invisible ones masked: documents are short, so the wasted products
/// cost less than splitting the block into runs.
func attendPacked(q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
                  out: UnsafeMutablePointer<Float>, ldo: Int, rows: Int, trunk: Int, branchStarts: [Int],
                  positions: UnsafePointer<Int>, qkDim: Int, vDim: Int, scale: Float, window: Int?,
                  scratch: UnsafeMutablePointer<Float>) {
    var nextBranch = 0
    var ownStart = trunk
    var r0 = 0
    while r0 < rows {
        let r1 = min(rows, r0 + attentionQueryBlock)
        let width = r1
        Float.serialGemm(transposeA: false, transposeB: true, m: r1 - r0, n: width, k: qkDim, alpha: scale,
                   a: q + r0 * ldq, lda: ldq, b: k, ldb: ldk, beta: 0, c: scratch, ldc: width)
        for r in r0..<r1 {
            while nextBranch < branchStarts.count && branchStarts[nextBranch] <= r {
                ownStart = branchStarts[nextBranch]
                nextBranch += 1
            }
            let oldest = window.map { positions[r] - $0 + 1 } ?? Int.min
            let row = scratch + (r - r0) * width
            func visible(_ c: Int) -> Bool { c <= r && (c < trunk || c >= ownStart) && positions[c] >= oldest }
            for c in 0..<width where !visible(c) { row[c] = -.infinity }
            softmaxInPlace(row, count: width)
            for c in 0..<width where !visible(c) { row[c] = 0 }
        }
        Float.serialGemm(transposeA: false, transposeB: false, m: r1 - r0, n: vDim, k: width, alpha: 1,
                   a: scratch, lda: width, b: v, ldb: ldv, beta: 0, c: out + r0 * ldo, ldc: ldo)
        r0 = r1
    }
}
