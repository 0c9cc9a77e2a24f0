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
}
