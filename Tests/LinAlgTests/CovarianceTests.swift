import LinAlg
import XCTest

final class CovarianceTests: XCTestCase {
    func testBlockedAccumulationEqualsDoubleGram() throws {
        var rng = SeededGenerator(seed: 1)
        // 1000 rows in blocks of 64, over three calls of uneven size.
        let x = Matrix<Float>.random(rows: 1000, cols: 37, using: &rng)
        var acc = CovarianceAccumulator(dimension: 37, blockRows: 64)
        try x.elements.withUnsafeBufferPointer { p in
            try acc.add(UnsafeBufferPointer(rebasing: p[0..<(300 * 37)]), rows: 300)
            try acc.add(UnsafeBufferPointer(rebasing: p[(300 * 37)..<(301 * 37)]), rows: 1)
            try acc.add(UnsafeBufferPointer(rebasing: p[(301 * 37)...]), rows: 699)
        }
        XCTAssertEqual(acc.count, 1000)
        let reference = matmul(x.asDouble, x.asDouble, transposeA: true)
        XCTAssertLessThan((acc.matrix - reference).frobeniusNorm, 1e-12 * reference.frobeniusNorm)
    }

    func testSumIsExactInDoubleWhereFloatWouldRound() throws {
        // 2^24 + 1 is not a Float, so a Float accumulation of 1² repeated 2^24+1 times
        // would stall; summing in Double keeps it exact. Use rows of 1 in one column.
        var acc = CovarianceAccumulator(dimension: 1, blockRows: 4096)
        let ones = [Float](repeating: 1, count: (1 << 24) + 1)
        try ones.withUnsafeBufferPointer { try acc.add($0, rows: ones.count) }
        XCTAssertEqual(acc.matrix[0, 0], Double((1 << 24) + 1))
    }

    func testMergeAddsSums() throws {
        var rng = SeededGenerator(seed: 2)
        let x = Matrix<Float>.random(rows: 20, cols: 5, using: &rng)
        let y = Matrix<Float>.random(rows: 30, cols: 5, using: &rng)
        var a = CovarianceAccumulator(dimension: 5), b = CovarianceAccumulator(dimension: 5), both = CovarianceAccumulator(dimension: 5)
        try a.add(x); try b.add(y); try both.add(x); try both.add(y)
        a.merge(b)
        XCTAssertEqual(a.count, 50)
        XCTAssertLessThan((a.matrix - both.matrix).frobeniusNorm, 1e-12)
    }

    func testNonFiniteActivationIsAnError() throws {
        var acc = CovarianceAccumulator(dimension: 3, blockRows: 2)
        let x = Matrix<Float>(rows: 3, cols: 3, elements: [1, 2, 3, 4, 5, 6, 7, .nan, 9])
        XCTAssertThrowsError(try acc.add(x, label: "layer 3 mlp input")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("layer 3 mlp input rows 2..<3"), text)
            XCTAssertTrue(text.contains("NaN or Inf"), text)
        }
        XCTAssertThrowsError(try acc.add(Matrix<Double>([[1, .infinity, 0]])))
    }

    /// Float32 block products: each block's rounding stays near Float's epsilon, and the
    /// float64 sum across blocks keeps counts exact; NaN is caught through the diagonal.
    func testFloat32BlockProductsStayWithinFloatRounding() throws {
        var rng = SeededGenerator(seed: 4)
        let x = Matrix<Float>.random(rows: 3000, cols: 40, using: &rng)
        var acc = CovarianceAccumulator(dimension: 40, products: .float32)
        XCTAssertEqual(acc.blockRows, 1024)
        try acc.add(x)
        let reference = matmul(x.asDouble, x.asDouble, transposeA: true)
        let error = (acc.matrix - reference).frobeniusNorm / reference.frobeniusNorm
        XCTAssertLessThan(error, 1e-6)
        XCTAssertGreaterThan(error, 0, "products really were formed in Float")

        var ones = CovarianceAccumulator(dimension: 1, blockRows: 1 << 20, products: .float32)
        let column = [Float](repeating: 1, count: (1 << 24) + 3)
        try column.withUnsafeBufferPointer { try ones.add($0, rows: column.count) }
        XCTAssertEqual(ones.matrix[0, 0], Double((1 << 24) + 3), "blocks below 2^24 rows sum exactly in Float, then in Double")

        var broken = CovarianceAccumulator(dimension: 3, blockRows: 2, products: .float32)
        XCTAssertThrowsError(try broken.add(Matrix<Float>(rows: 3, cols: 3, elements: [1, 2, 3, 4, 5, 6, 7, .infinity, 9]), label: "wo_input")) {
            XCTAssertTrue("\($0)".contains("wo_input rows 2..<3"), "\($0)")
        }
    }

    func testCrossProductsMatchTheDoubleProductInBothPrecisions() throws {
        var rng = SeededGenerator(seed: 5)
        let x = Matrix<Float>.random(rows: 700, cols: 12, using: &rng), y = Matrix<Float>.random(rows: 700, cols: 7, using: &rng)
        let reference = matmul(x.asDouble, y.asDouble, transposeA: true)
        for (products, tolerance) in [(BlockProducts.float64, 1e-12), (.float32, 1e-6)] {
            var acc = CrossProductAccumulator(leftDimension: 12, rightDimension: 7, blockRows: 256, products: products)
            try acc.add(x, y)
            XCTAssertEqual(acc.count, 700)
            XCTAssertLessThan((acc.matrix - reference).frobeniusNorm / reference.frobeniusNorm, tolerance, "\(products)")
        }
        var acc = CrossProductAccumulator(leftDimension: 1, rightDimension: 1)
        XCTAssertThrowsError(try acc.add(Matrix<Float>([[1], [.nan]]), Matrix<Float>([[1], [2]]), label: "pair"))
    }
}
