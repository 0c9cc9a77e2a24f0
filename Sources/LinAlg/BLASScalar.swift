import CCBLAS
import CLAPACKE

/// A floating-point type with BLAS and LAPACK routines: `Float` (s-prefixed routines)
/// and `Double` (d-prefixed). All matrices are row-major; leading dimensions are row strides.
public protocol BLASScalar: BinaryFloatingPoint, Sendable where Self.RawSignificand: FixedWidthInteger {
    /// C ← alpha·op(A)·op(B) + beta·C, with op(A) m×k and op(B) k×n, as one single-threaded
    /// BLAS call. Callers outside a worker use the tiled `gemm` (ProductTiles.swift).
    static func serialGemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                     alpha: Self, a: UnsafePointer<Self>, lda: Int,
                     b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    /// Upper triangle of C (n×n) ← alpha·AᵀA + beta·C, A being k×n, as one BLAS call.
    static func serialSyrkTransposed(n: Int, k: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
                               beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    /// Symmetric eigendecomposition (divide and conquer) of the upper triangle; eigenvalues
    /// ascending into `w`, with `vectors` the eigenvectors overwrite `a` as columns (without,
    /// `a` is destroyed). Returns LAPACK's info.
    static func syevd(n: Int, a: UnsafeMutablePointer<Self>, w: UnsafeMutablePointer<Self>, vectors: Bool) -> Int32
    /// Cholesky factor A = L·Lᵀ in the lower triangle. Returns LAPACK's info.
    static func potrf(n: Int, a: UnsafeMutablePointer<Self>) -> Int32
    /// Solves A·X = B given the lower Cholesky factor; B is n×nrhs and is overwritten.
    static func potrs(n: Int, nrhs: Int, l: UnsafePointer<Self>, b: UnsafeMutablePointer<Self>) -> Int32
    /// Inverse of A from its lower Cholesky factor, into the lower triangle.
    static func potri(n: Int, a: UnsafeMutablePointer<Self>) -> Int32
}

@inline(__always) private func transposeFlag(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: BLASScalar {
    public static func serialGemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        BLASThreads.prepare()
        cblas_sgemm(CblasRowMajor, transposeFlag(transposeA), transposeFlag(transposeB),
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static func serialSyrkTransposed(n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        BLASThreads.prepare()
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(n), Int32(k), alpha, a, Int32(lda), beta, c, Int32(ldc))
    }
    public static func syevd(n: Int, a: UnsafeMutablePointer<Float>, w: UnsafeMutablePointer<Float>, vectors: Bool) -> Int32 {
        BLASThreads.prepare()
        // Eigenvalues alone: row-major upper is column-major lower of a symmetric matrix,
        // which spares LAPACKE's transposed copy (a fifth of the time at n = 1536; the
        // two-stage reduction measured slower than the one-stage one here).
        if !vectors { return LAPACKE_ssyevd(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "L")), Int32(n), a, Int32(n), w) }
        return LAPACKE_ssyevd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")), Int32(n), a, Int32(n), w)
    }
    public static func potrf(n: Int, a: UnsafeMutablePointer<Float>) -> Int32 {
        BLASThreads.prepare()
        return LAPACKE_spotrf(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), a, Int32(n))
    }
    public static func potrs(n: Int, nrhs: Int, l: UnsafePointer<Float>, b: UnsafeMutablePointer<Float>) -> Int32 {
        BLASThreads.prepare()
        return LAPACKE_spotrs(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), Int32(nrhs), l, Int32(n), b, Int32(nrhs))
    }
    public static func potri(n: Int, a: UnsafeMutablePointer<Float>) -> Int32 {
        BLASThreads.prepare()
        return LAPACKE_spotri(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), a, Int32(n))
    }
}

extension Double: BLASScalar {
    public static func serialGemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                            alpha: Double, a: UnsafePointer<Double>, lda: Int,
                            b: UnsafePointer<Double>, ldb: Int,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        BLASThreads.prepare()
        cblas_dgemm(CblasRowMajor, transposeFlag(transposeA), transposeFlag(transposeB),
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static func serialSyrkTransposed(n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
                                      beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        BLASThreads.prepare()
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(n), Int32(k), alpha, a, Int32(lda), beta, c, Int32(ldc))
    }
    public static func syevd(n: Int, a: UnsafeMutablePointer<Double>, w: UnsafeMutablePointer<Double>, vectors: Bool) -> Int32 {
        BLASThreads.prepare()
        // Eigenvalues alone: row-major upper is column-major lower of a symmetric matrix,
        // which spares LAPACKE's transposed copy (a fifth of the time at n = 1536; the
        // two-stage reduction measured slower than the one-stage one here).
        if !vectors { return LAPACKE_dsyevd(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "L")), Int32(n), a, Int32(n), w) }
        return LAPACKE_dsyevd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")), Int32(n), a, Int32(n), w)
    }
    public static func potrf(n: Int, a: UnsafeMutablePointer<Double>) -> Int32 {
        BLASThreads.prepare()
        return LAPACKE_dpotrf(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), a, Int32(n))
    }
    public static func potrs(n: Int, nrhs: Int, l: UnsafePointer<Double>, b: UnsafeMutablePointer<Double>) -> Int32 {
        BLASThreads.prepare()
        return LAPACKE_dpotrs(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), Int32(nrhs), l, Int32(n), b, Int32(nrhs))
    }
    public static func potri(n: Int, a: UnsafeMutablePointer<Double>) -> Int32 {
        BLASThreads.prepare()
        return LAPACKE_dpotri(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), a, Int32(n))
    }
}
