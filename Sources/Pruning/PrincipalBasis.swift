import LinAlg

/// The eigenbasis of a damped covariance, eigenvalues descending (float64 throughout: the
/// SliceGPT paper reports that a float32 eigendecomposition costs accuracy).
struct PrincipalBasis {
    /// Eigenvalues of C + λI, λ = 0.01·mean(diag C), descending.
    let eigenvalues: [Double]
    /// The eigenvectors as columns, in the same order.
    let vectors: Matrix<Double>

    init(covariance: Matrix<Double>, label: String) throws {
        do {
            let eigen = try symmetricEigen(damped(covariance, fraction: 0.01))
            eigenvalues = eigen.values
            vectors = eigen.vectors
        } catch {
            throw PruningError("\(label): eigendecomposition failed: \(error)")
        }
    }

    /// The leading `k` eigenvectors as columns ([n, k]).
    func leading(_ k: Int) -> Matrix<Double> { vectors.selectingColumns(Array(0..<k)) }

    /// The share of the (damped) variance the leading `k` directions hold.
    func varianceKept(_ k: Int) -> Double {
        eigenvalues.prefix(k).reduce(0, +) / eigenvalues.reduce(0, +)
    }
}

/// Σ xᵀx over the rows of several matrices, in float64.
func covariance(of groups: GroupedRows, label: String) throws -> Matrix<Double> {
    precondition(groups.count > 0)
    var accumulator: CovarianceAccumulator?
    for g in groups.indices {
        let group = try groups.group(g)
        if accumulator == nil { accumulator = CovarianceAccumulator(dimension: group.cols) }
        try accumulator!.add(group, label: label)
    }
    return accumulator!.matrix
}
