/// Eigenvalues in descending order and the matching unit eigenvectors as columns:
/// `A · vectors[:, i] = values[i] · vectors[:, i]`.
public struct SymmetricEigen<S: BLASScalar>: Sendable {
    public let values: [S]
    public let vectors: Matrix<S>
}

/// Eigendecomposition of a symmetric matrix (LAPACK syevd, divide and conquer).
/// Only the upper triangle of `a` is read.
public func symmetricEigen<S: BLASScalar>(_ a: Matrix<S>) throws -> SymmetricEigen<S> {
    let (ascending, work) = try ascendingEigen(a, vectors: true)
    let n = a.rows
    // LAPACK returns ascending order; reverse values and columns together.
    var vectors = Matrix<S>(rows: n, cols: n)
    work.withUnsafeBufferPointer { src in
        vectors.elements.withUnsafeMutableBufferPointer { dst in
            for r in 0..<n {
                for c in 0..<n { dst[r * n + c] = src[r * n + (n - 1 - c)] }
            }
        }
    }
    return SymmetricEigen(values: ascending.reversed(), vectors: vectors)
}

/// The eigenvalues of a symmetric matrix in descending order, without the eigenvectors
/// (a fraction of the work of `symmetricEigen` for large matrices). Only the upper
/// triangle of `a` is read.
public func symmetricEigenvalues<S: BLASScalar>(_ a: Matrix<S>) throws -> [S] {
    try ascendingEigen(a, vectors: false).values.reversed()
}

/// syevd on a copy of `a`: eigenvalues ascending and the work array (the eigenvectors as
/// columns when `vectors`).
private func ascendingEigen<S: BLASScalar>(_ a: Matrix<S>, vectors: Bool) throws -> (values: [S], work: [S]) {
    precondition(a.rows == a.cols, "eigendecomposition needs a square matrix, got \(a.rows)×\(a.cols)")
    let n = a.rows
    guard a.isFinite else { throw LinAlgError.nonFinite(what: "matrix to eigendecompose (\(n)×\(n))") }
    guard n > 0 else { return ([], []) }
    var work = a.elements
    var ascending = [S](repeating: 0, count: n)
    let info = work.withUnsafeMutableBufferPointer { pa in
        ascending.withUnsafeMutableBufferPointer { pw in S.syevd(n: n, a: pa.baseAddress!, w: pw.baseAddress!, vectors: vectors) }
    }
    if info < 0 { throw LinAlgError.lapackArgument(routine: "syevd", info: Int(info)) }
    if info > 0 { throw LinAlgError.eigenNoConvergence(info: Int(info), size: n) }
    return (ascending, work)
}
