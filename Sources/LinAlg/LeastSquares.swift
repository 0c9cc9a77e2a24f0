/// W = (G + λI)⁻¹·R: the ridge solution from the Gram matrix G = XᵀX and the cross term
/// R = XᵀY. Methods accumulate G and R over calibration batches, then call this.
public func ridgeSolve<S: BLASScalar>(gram g: Matrix<S>, cross r: Matrix<S>, lambda: S) throws -> Matrix<S> {
    precondition(g.rows == g.cols && r.rows == g.rows, "Gram \(g.rows)×\(g.cols) and cross term \(r.rows)×\(r.cols) do not match")
    var regularised = g
    for i in 0..<g.rows { regularised.elements[i * g.cols + i] += lambda }
    return try CholeskyFactor(regularised).solve(r)
}

/// argmin_W ‖X·W − Y‖² + λ‖W‖² for X (T×n) and Y (T×m).
public func ridgeLeastSquares<S: BLASScalar>(_ x: Matrix<S>, _ y: Matrix<S>, lambda: S) throws -> Matrix<S> {
    precondition(x.rows == y.rows, "X has \(x.rows) rows, Y has \(y.rows)")
    return try ridgeSolve(gram: gram(x), cross: matmul(x, y, transposeA: true), lambda: lambda)
}
