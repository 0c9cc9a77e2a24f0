/// How a product is cut into tiles for the workers. The cut depends only on the product's
/// shape, never on the thread count, so a result has the same bits on any number of
/// threads (OpenBLAS's kernels round differently for different tile shapes).
enum ProductTiles {
    /// Below this many multiply-adds a product is one call: the tiles would cost more to
    /// hand out than they save.
    static let smallestSplit = 1 << 22
    /// Tiles per product: enough to balance two to four workers.
    static let count = 4
    /// Rows (of C) from which a product is cut by rows; below it, by columns. Cutting by
    /// rows repacks B per tile, which a few rows do not amortise (a 64-row block of logits).
    static let rowCutMinimum = 1024

    /// Tiles of `extent` in steps that are multiples of 16 (the kernels' register blocks).
    static func ranges(_ extent: Int) -> [Range<Int>] {
        let step = ((extent + count - 1) / count + 15) / 16 * 16
        return stride(from: 0, to: extent, by: step).map { $0..<min(extent, $0 + step) }
    }
}

extension BLASScalar {
    /// C ← alpha·op(A)·op(B) + beta·C, with op(A) m×k and op(B) k×n, cut into tiles that run
    /// on the workers (`BLASThreads`). Inside a worker call `serialGemm` instead.
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                            alpha: Self, a: UnsafePointer<Self>, lda: Int,
                            b: UnsafePointer<Self>, ldb: Int,
                            beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int) {
        guard m * n * k >= ProductTiles.smallestSplit else {
            return serialGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                              b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
        if m >= ProductTiles.rowCutMinimum {
            let tiles = ProductTiles.ranges(m)
            Workers.run(tasks: tiles.count) { t, _ in
                let r = tiles[t]
                serialGemm(transposeA: transposeA, transposeB: transposeB, m: r.count, n: n, k: k, alpha: alpha,
                           a: transposeA ? a + r.lowerBound : a + r.lowerBound * lda, lda: lda, b: b, ldb: ldb,
                           beta: beta, c: c + r.lowerBound * ldc, ldc: ldc)
            }
        } else {
            let tiles = ProductTiles.ranges(n)
            Workers.run(tasks: tiles.count) { t, _ in
                let r = tiles[t]
                serialGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: r.count, k: k, alpha: alpha, a: a, lda: lda,
                           b: transposeB ? b + r.lowerBound * ldb : b + r.lowerBound, ldb: ldb,
                           beta: beta, c: c + r.lowerBound, ldc: ldc)
            }
        }
    }

    /// Upper triangle of C (n×n) ← alpha·AᵀA + beta·C, A being k×n, on the workers: with
    /// A = [A₁ A₂] split at the middle column, C₁₂ = A₁ᵀA₂ is one gemm and C₁₁, C₂₂ two syrks
    /// of a quarter of the work each, so two workers get equal shares.
    public static func syrkTransposed(n: Int, k: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
                                      beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int) {
        guard n >= 64, n * n * k >= 2 * ProductTiles.smallestSplit else {
            return serialSyrkTransposed(n: n, k: k, alpha: alpha, a: a, lda: lda, beta: beta, c: c, ldc: ldc)
        }
        let n1 = (n / 2 + 15) / 16 * 16, n2 = n - n1
        Workers.run(tasks: 3) { task, _ in
            switch task {
            case 0:
                serialGemm(transposeA: true, transposeB: false, m: n1, n: n2, k: k, alpha: alpha, a: a, lda: lda,
                           b: a + n1, ldb: lda, beta: beta, c: c + n1, ldc: ldc)
            case 1:
                serialSyrkTransposed(n: n1, k: k, alpha: alpha, a: a, lda: lda, beta: beta, c: c, ldc: ldc)
            default:
                serialSyrkTransposed(n: n2, k: k, alpha: alpha, a: a + n1, lda: lda, beta: beta, c: c + n1 * ldc + n1, ldc: ldc)
            }
        }
    }
}
