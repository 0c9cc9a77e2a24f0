import LinAlg
import XCTest

final class ProductsTests: XCTestCase {
    // A (2×3) and B (3×2) with products worked out by hand.
    let a: [[Double]] = [[1, 2, 3], [4, 5, 6]]
    let b: [[Double]] = [[7, 8], [9, 10], [11, 12]]

    func testGemmAgainstHandComputedProductsInBothPrecisions() {
        XCTAssertEqual(matmul(Matrix(a), Matrix(b)), Matrix([[58, 64], [139, 154]]))
        XCTAssertEqual(matmul(Matrix(a.map { $0.map(Float.init) }), Matrix(b.map { $0.map(Float.init) })),
                       Matrix<Float>([[58, 64], [139, 154]]))
        // Aᵀ·Bᵀ (3×3): (AᵀBᵀ)_ij = Σ_k A_ki B_jk.
        XCTAssertEqual(matmul(Matrix(a), Matrix(b), transposeA: true, transposeB: true),
                       Matrix([[39, 49, 59], [54, 68, 82], [69, 87, 105]]))
        // Aᵀ·A (3×3) and A·Aᵀ (2×2).
        XCTAssertEqual(matmul(Matrix(a), Matrix(a), transposeA: true),
                       Matrix([[17, 22, 27], [22, 29, 36], [27, 36, 45]]))
        XCTAssertEqual(matmul(Matrix(a), Matrix(a), transposeB: true), Matrix([[14, 32], [32, 77]]))
    }

    func testGemmAccumulatesWithAlphaAndBeta() {
        var c = Matrix<Double>([[1, 1], [1, 1]])
        gemm(Matrix(a), Matrix(b), alpha: 2, beta: -1, into: &c)
        XCTAssertEqual(c, Matrix([[115, 127], [277, 307]]))
    }

    func testEmptyInnerDimensionScalesC() {
        var c = Matrix<Float>([[2, 4]])
        gemm(Matrix<Float>(rows: 1, cols: 0), Matrix<Float>(rows: 0, cols: 2), beta: 0.5, into: &c)
        XCTAssertEqual(c, Matrix<Float>([[1, 2]]))
    }

    func testGramEqualsTransposedProduct() {
        var rng = SeededGenerator(seed: 7)
        let x = Matrix<Double>.random(rows: 40, cols: 9, using: &rng)
        let g = gram(x)
        let reference = matmul(x, x, transposeA: true)
        XCTAssertLessThan((g - reference).frobeniusNorm, 1e-12 * reference.frobeniusNorm)
        XCTAssertEqual(g, g.transposed)
    }

    func testRowAndColumnSelection() {
        let m = Matrix<Double>(a)
        XCTAssertEqual(m.selectingRows([1, 0]), Matrix([[4, 5, 6], [1, 2, 3]]))
        XCTAssertEqual(m.selectingColumns([2, 0]), Matrix([[3, 1], [6, 4]]))
        XCTAssertEqual(m.transposed, Matrix([[1, 4], [2, 5], [3, 6]]))
    }

    func testThreadCountCanBeSetAndRead() {
        let before = BLASThreads.count
        BLASThreads.set(1)
        XCTAssertEqual(BLASThreads.count, 1)
        BLASThreads.set(before)
        XCTAssertEqual(BLASThreads.count, before)
        XCTAssertTrue(BLASThreads.configuration.contains("OpenBLAS"), BLASThreads.configuration)
    }

    func testSeededGeneratorIsReproducible() {
        var g1 = SeededGenerator(seed: 42), g2 = SeededGenerator(seed: 42), g3 = SeededGenerator(seed: 43)
        let s1 = (0..<4).map { _ in g1.next() }, s2 = (0..<4).map { _ in g2.next() }, s3 = (0..<4).map { _ in g3.next() }
        XCTAssertEqual(s1, s2)
        XCTAssertNotEqual(s1, s3)
    }

    func testQuantilesInterpolateLikeNumpy() {
        let t = TimingSummary(samples: [4, 1, 3, 2])
        XCTAssertEqual(t.median, 2.5)
        XCTAssertEqual(t.q1, 1.75)
        XCTAssertEqual(t.q3, 3.25)
        XCTAssertEqual(t.min, 1)
        XCTAssertEqual(t.max, 4)
    }
}
