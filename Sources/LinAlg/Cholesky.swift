/// A + λI with λ = fraction · mean(diag A): the damping the methods apply before any
/// eigendecomposition, inverse or Cholesky (fraction 0.01 in SliceGPT and IntraSlice).
@inlinable
public func damped<S: BLASScalar>(_ a: Matrix<S>, fraction: S) -> Matrix<S> {
    precondition(a.rows == a.cols, "damping needs a square matrix")
    guard a.rows > 0, fraction != 0 else { return a }
    let n = a.rows
    let lambda = fraction * a.diagonal.reduce(0, +) / S(n)
    var out = a
    for i in 0..<n { out.elements[i * n + i] += lambda }
    return out
}

/// The Cholesky factorisation A = L·Lᵀ of a symmetric positive definite matrix.
public struct CholeskyFactor<S: BLASScalar>: Sendable {
    /// L, lower triangular; the strict upper triangle is zero.
    public let lower: Matrix<S>

    /// Factors `a` (only its lower triangle is read) after damping by
    /// `dampingFraction · mean(diag a)`. Throws `notPositiveDefinite` if it still is not.
    /// A matrix the caller hands over (`consume`) is factored in place, without a copy.
    @inlinable
    public init(_ a: consuming Matrix<S>, dampingFraction: S = 0) throws {
        precondition(a.rows == a.cols, "Cholesky needs a square matrix, got \(a.rows)×\(a.cols)")
        let n = a.rows
        guard a.isFinite else { throw LinAlgError.nonFinite(what: "matrix to factor (\(n)×\(n))") }
        var l = dampingFraction == 0 ? consume a : damped(a, fraction: dampingFraction)
        if n > 0 {
            let info = l.elements.withUnsafeMutableBufferPointer { S.potrf(n: n, a: $0.baseAddress!) }
            if info < 0 { throw LinAlgError.lapackArgument(routine: "potrf", info: Int(info)) }
            if info > 0 { throw LinAlgError.notPositiveDefinite(order: Int(info), size: n) }
            l.elements.withUnsafeMutableBufferPointer { p in for r in 0..<n { for c in (r + 1)..<n { p[r * n + c] = 0 } } }
        }
        lower = l
    }

    public var size: Int { lower.rows }

    /// X with A·X = B.
    @inlinable
    public func solve(_ b: Matrix<S>) -> Matrix<S> {
        precondition(b.rows == size, "right-hand side has \(b.rows) rows, matrix is \(size)×\(size)")
        var x = b
        guard size > 0, b.cols > 0 else { return x }
        let info = lower.elements.withUnsafeBufferPointer { pl in
            x.elements.withUnsafeMutableBufferPointer { px in
                S.potrs(n: size, nrhs: b.cols, l: pl.baseAddress!, b: px.baseAddress!)
            }
        }
        precondition(info == 0, "potrs failed with info \(info) on a valid factor")
        return x
    }

    /// A⁻¹ (symmetric, both triangles filled).
    @inlinable
    public func inverse() -> Matrix<S> {
        var inv = lower
        guard size > 0 else { return inv }
        let info = inv.elements.withUnsafeMutableBufferPointer { S.potri(n: size, a: $0.baseAddress!) }
        precondition(info == 0, "potri failed with info \(info) on a valid factor")
        inv.mirrorLowerToUpper()
        return inv
    }
}
