/// C ← alpha·op(A)·op(B) + beta·C through BLAS gemm, op being an optional transpose.
/// Inlinable (as `matmul` and `gram`) so that callers in other modules get it specialised:
/// unspecialised, allocating the result went through a per-element value-witness copy.
@inlinable
public func gemm<S: BLASScalar>(_ a: Matrix<S>, _ b: Matrix<S>,
                                transposeA: Bool = false, transposeB: Bool = false,
                                alpha: S = 1, beta: S = 0, into c: inout Matrix<S>) {
    let (m, k) = transposeA ? (a.cols, a.rows) : (a.rows, a.cols)
    let (kb, n) = transposeB ? (b.cols, b.rows) : (b.rows, b.cols)
    precondition(k == kb, "inner dimensions differ: op(A) is \(m)×\(k), op(B) is \(kb)×\(n)")
    precondition(c.rows == m && c.cols == n, "C is \(c.rows)×\(c.cols), expected \(m)×\(n)")
    if m == 0 || n == 0 { return }
    if k == 0 {
        // BLAS leaves C untouched when k = 0 only for beta = 1; make the k = 0 product explicit.
        for i in c.elements.indices { c.elements[i] *= beta }
        return
    }
    a.elements.withUnsafeBufferPointer { pa in
        b.elements.withUnsafeBufferPointer { pb in
            c.elements.withUnsafeMutableBufferPointer { pc in
                S.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                       alpha: alpha, a: pa.baseAddress!, lda: a.cols,
                       b: pb.baseAddress!, ldb: b.cols,
                       beta: beta, c: pc.baseAddress!, ldc: n)
            }
        }
    }
}

/// op(A)·op(B) as a new matrix.
@inlinable
public func matmul<S: BLASScalar>(_ a: Matrix<S>, _ b: Matrix<S>,
                                  transposeA: Bool = false, transposeB: Bool = false) -> Matrix<S> {
    var c = Matrix<S>(rows: transposeA ? a.cols : a.rows, cols: transposeB ? b.rows : b.cols)
    gemm(a, b, transposeA: transposeA, transposeB: transposeB, into: &c)
    return c
}

/// AᵀA (the Gram matrix) through syrk, both triangles filled.
@inlinable
public func gram<S: BLASScalar>(_ a: Matrix<S>) -> Matrix<S> {
    var g = Matrix<S>(rows: a.cols, cols: a.cols)
    guard a.rows > 0, a.cols > 0 else { return g }
    a.elements.withUnsafeBufferPointer { pa in
        g.elements.withUnsafeMutableBufferPointer { pg in
            S.syrkTransposed(n: a.cols, k: a.rows, alpha: 1, a: pa.baseAddress!, lda: a.cols,
                             beta: 0, c: pg.baseAddress!, ldc: a.cols)
        }
    }
    g.mirrorUpperToLower()
    return g
}

extension Matrix {
    /// Copies the upper triangle onto the lower one (BLAS/LAPACK fill only one triangle).
    @inlinable
    public mutating func mirrorUpperToLower() {
        precondition(rows == cols, "mirroring needs a square matrix")
        let n = rows
        elements.withUnsafeMutableBufferPointer { p in
            for r in 1..<max(n, 1) {
                for c in 0..<r { p[r * n + c] = p[c * n + r] }
            }
        }
    }

    /// Copies the lower triangle onto the upper one.
    @inlinable
    public mutating func mirrorLowerToUpper() {
        precondition(rows == cols, "mirroring needs a square matrix")
        let n = rows
        elements.withUnsafeMutableBufferPointer { p in
            for r in 1..<max(n, 1) {
                for c in 0..<r { p[c * n + r] = p[r * n + c] }
            }
        }
    }
}
