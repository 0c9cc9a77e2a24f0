import LinAlg
import XCTest

final class DecompositionTests: XCTestCase {
    func randomSymmetric<S: BLASScalar>(_ n: Int, seed: UInt64, _: S.Type) -> Matrix<S> {
        var rng = SeededGenerator(seed: seed)
        let b = Matrix<S>.random(rows: n, cols: n, using: &rng)
        return b + b.transposed
    }

    func checkEigen<S: BLASScalar>(_ c: Matrix<S>, tolerance: Double) throws {
        let e = try symmetricEigen(c)
        let n = c.rows
        // Residual ‖CV − VΛ‖ relative to ‖C‖.
        var vLambda = e.vectors
        for r in 0..<n { for k in 0..<n { vLambda[r, k] *= e.values[k] } }
        let residual = (matmul(c, e.vectors) - vLambda).frobeniusNorm / c.frobeniusNorm
        XCTAssertLessThan(residual, tolerance, "residual ‖CV − VΛ‖/‖C‖")
        // VᵀV = I.
        let orthogonality = (matmul(e.vectors, e.vectors, transposeA: true) - Matrix<S>.identity(n)).frobeniusNorm
        XCTAssertLessThan(orthogonality, tolerance * Double(n), "‖VᵀV − I‖")
        // Descending order.
        XCTAssertTrue(zip(e.values, e.values.dropFirst()).allSatisfy { $0 >= $1 }, "\(e.values)")
    }

    func testEigenOfRandomSymmetricMatricesInBothPrecisions() throws {
        for (n, seed) in [(1, 1), (7, 2), (64, 3), (200, 4)] {
            try checkEigen(randomSymmetric(n, seed: UInt64(seed), Double.self), tolerance: 1e-13)
            try checkEigen(randomSymmetric(n, seed: UInt64(seed), Float.self), tolerance: 2e-5)
        }
    }

    func testEigenClosedForm() throws {
        // [[2, 1], [1, 2]] has eigenvalues 3 and 1 with eigenvectors (1, 1)/√2 and (1, −1)/√2.
        let e = try symmetricEigen(Matrix<Double>([[2, 1], [1, 2]]))
        XCTAssertEqual(e.values[0], 3, accuracy: 1e-14)
        XCTAssertEqual(e.values[1], 1, accuracy: 1e-14)
        XCTAssertEqual(abs(e.vectors[0, 0]), 0.5.squareRoot(), accuracy: 1e-14)
        XCTAssertEqual(e.vectors[0, 0], e.vectors[1, 0], accuracy: 1e-14)
        XCTAssertEqual(e.vectors[0, 1], -e.vectors[1, 1], accuracy: 1e-14)
    }

    /// Eigenvalues alone equal those of the full decomposition (descending) within 1e-12
    /// of the largest.
    func testEigenvaluesAloneEqualTheFullDecompositions() throws {
        for (n, seed) in [(1, 5), (9, 6), (300, 7)] {
            let a = randomSymmetric(n, seed: UInt64(seed), Double.self)
            let alone = try symmetricEigenvalues(a), full = try symmetricEigen(a).values
            XCTAssertEqual(alone.count, n)
            for (x, y) in zip(alone, full) { XCTAssertEqual(x, y, accuracy: 1e-12 * max(1, abs(full[0]))) }
        }
        XCTAssertThrowsError(try symmetricEigenvalues(Matrix<Double>([[1, .nan], [.nan, 1]])))
    }

    func testEigenRejectsNaN() {
        XCTAssertThrowsError(try symmetricEigen(Matrix<Double>([[1, .nan], [.nan, 1]])))
    }

    func spd<S: BLASScalar>(_ n: Int, seed: UInt64, _: S.Type) -> Matrix<S> {
        var rng = SeededGenerator(seed: seed)
        let b = Matrix<S>.random(rows: n + 5, cols: n, using: &rng)
        return gram(b) + Matrix<S>.identity(n)
    }

    func testCholeskyFactorSolveAndInverse() throws {
        let a = spd(30, seed: 9, Double.self)
        let factor = try CholeskyFactor(a)
        let l = factor.lower
        XCTAssertLessThan((matmul(l, l, transposeB: true) - a).frobeniusNorm, 1e-12 * a.frobeniusNorm)
        for r in 0..<30 { for c in (r + 1)..<30 { XCTAssertEqual(l[r, c], 0) } }
        var rng = SeededGenerator(seed: 10)
        let b = Matrix<Double>.random(rows: 30, cols: 4, using: &rng)
        let x = factor.solve(b)
        XCTAssertLessThan((matmul(a, x) - b).frobeniusNorm, 1e-11)
        let inverse = factor.inverse()
        XCTAssertLessThan((matmul(a, inverse) - Matrix.identity(30)).frobeniusNorm, 1e-11)
        XCTAssertEqual(inverse, inverse.transposed)

        let af = spd(20, seed: 11, Float.self)
        let ff = try CholeskyFactor(af)
        XCTAssertLessThan((matmul(af, ff.inverse()) - Matrix.identity(20)).frobeniusNorm, 1e-3)
    }

    func testCholeskyErrorOnIndefiniteMatrix() {
        // [[1, 2], [2, 1]] has eigenvalues 3 and −1: the 2×2 leading minor is negative.
        XCTAssertThrowsError(try CholeskyFactor(Matrix<Double>([[1, 2], [2, 1]]))) { error in
            XCTAssertEqual(error as? LinAlgError, .notPositiveDefinite(order: 2, size: 2))
            XCTAssertTrue(String(describing: error).contains("not positive definite"))
        }
    }

    func testDampingRescuesASingularCovariance() throws {
        // A rank-1 covariance (all rows equal) is singular; damping by 1 % of the mean
        // diagonal makes it positive definite, as the methods require.
        let x = Matrix<Double>(rows: 10, cols: 4, elements: (0..<40).map { Double($0 % 4 + 1) })
        let c = gram(x)
        XCTAssertThrowsError(try CholeskyFactor(c))
        let factor = try CholeskyFactor(c, dampingFraction: 0.01)
        let lambda = 0.01 * c.diagonal.reduce(0, +) / 4
        XCTAssertEqual(damped(c, fraction: 0.01)[2, 2], c[2, 2] + lambda, accuracy: 1e-12)
        let l = factor.lower
        XCTAssertLessThan((matmul(l, l, transposeB: true) - damped(c, fraction: 0.01)).frobeniusNorm, 1e-10)
    }

    func testRidgeClosedFormInOneDimension() throws {
        // argmin_w Σ(x w − y)² + λw² = Σxy / (Σx² + λ).
        let x = Matrix<Double>(rows: 4, cols: 1, elements: [1, 2, 3, 4])
        let y = Matrix<Double>(rows: 4, cols: 1, elements: [2, 3, 7, 8])
        let w = try ridgeLeastSquares(x, y, lambda: 0.5)
        XCTAssertEqual(w[0, 0], (2 + 6 + 21 + 32) / (30 + 0.5), accuracy: 1e-14)
    }

    func testRidgeSatisfiesTheNormalEquations() throws {
        var rng = SeededGenerator(seed: 12)
        let x = Matrix<Double>.random(rows: 100, cols: 8, using: &rng)
        let y = Matrix<Double>.random(rows: 100, cols: 3, using: &rng)
        let lambda = 0.3
        let w = try ridgeLeastSquares(x, y, lambda: lambda)
        // Xᵀ(XW − Y) + λW = 0.
        var gradient = matmul(x, matmul(x, w) - y, transposeA: true)
        for i in gradient.elements.indices { gradient.elements[i] += lambda * w.elements[i] }
        XCTAssertLessThan(gradient.frobeniusNorm, 1e-12)
        // Without regularisation, an exactly representable Y is recovered.
        let truth = Matrix<Double>.random(rows: 8, cols: 3, using: &rng)
        let recovered = try ridgeLeastSquares(x, matmul(x, truth), lambda: 0)
        XCTAssertLessThan((recovered - truth).frobeniusNorm, 1e-10)
    }
}
