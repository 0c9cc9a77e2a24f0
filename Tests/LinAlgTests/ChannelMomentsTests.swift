import LinAlg
import XCTest

/// Streamed per-channel moments and row outliers against closed forms and a direct
/// two-pass computation.
final class ChannelMomentsTests: XCTestCase {
    /// Channel j cycles through offset_j + s_j·{−2, −1, 0, 1, 2} (every value exact in
    /// Float): mean offset_j, variance 2·s_j², kurtosis 6.8/4 = 1.7, whatever the offset.
    /// Channel 0's offset is 2¹⁶ against a spread of 2⁻⁷: raw power sums in float64 would
    /// keep about two digits of its variance and none of its kurtosis.
    func testKnownMomentsAreRecoveredAcrossBlocksAndALargeOffset() {
        let offsets: [Float] = [65536, -3, 0, 0.5], spreads: [Float] = [0.0078125, 1, 0.25, 4]
        let width = offsets.count, rows = 5 * 211  // not a multiple of the 256-row block
        var x = [Float](repeating: 0, count: rows * width)
        for r in 0..<rows { for j in 0..<width { x[r * width + j] = offsets[j] + spreads[j] * Float(r % 5 - 2) } }
        var moments = ChannelMoments(width: width)
        x.withUnsafeBufferPointer { p in
            moments.add(p.baseAddress!, rows: 400)
            moments.add(p.baseAddress! + 400 * width, rows: rows - 400)
        }
        XCTAssertEqual(moments.count, rows)
        for j in 0..<width {
            XCTAssertEqual(moments.mean[j], Double(offsets[j]), accuracy: 1e-12 * max(1, abs(Double(offsets[j]))), "mean \(j)")
            let variance = 2 * Double(spreads[j]) * Double(spreads[j])
            XCTAssertEqual(moments.variance[j], variance, accuracy: 1e-9 * variance, "variance \(j)")
            XCTAssertEqual(moments.kurtosis[j], 1.7, accuracy: 1e-8, "kurtosis \(j)")
            XCTAssertEqual(moments.absMax[j], max(abs(offsets[j] - 2 * spreads[j]), abs(offsets[j] + 2 * spreads[j])))
        }
    }

    /// Random rows with a heavy-tailed channel: streamed and merged moments equal a direct
    /// two-pass computation in float64 within 1e-10 relative.
    func testStreamedAndMergedMomentsEqualTwoPassMoments() {
        var rng = SeededGenerator(seed: 5)
        let width = 37, rows = 1500
        var x = Matrix<Float>.random(rows: rows, cols: width, using: &rng).elements
        for r in 0..<rows { x[r * width + 3] = 10 + pow(x[r * width + 3], 9) * 50 }  // skewed, heavy-tailed
        var whole = ChannelMoments(width: width), first = ChannelMoments(width: width), second = ChannelMoments(width: width)
        x.withUnsafeBufferPointer { p in
            whole.add(p.baseAddress!, rows: rows)
            first.add(p.baseAddress!, rows: 700)
            second.add(p.baseAddress! + 700 * width, rows: rows - 700)
        }
        first.merge(second)
        for j in 0..<width {
            let column = (0..<rows).map { Double(x[$0 * width + j]) }
            let mean = column.reduce(0, +) / Double(rows)
            let m2 = column.reduce(0) { $0 + pow($1 - mean, 2) }, m4 = column.reduce(0) { $0 + pow($1 - mean, 4) }
            let kurtosis = Double(rows) * m4 / (m2 * m2)
            for (name, streamed) in [("whole", whole), ("merged", first)] {
                XCTAssertEqual(streamed.mean[j], mean, accuracy: 1e-10 * max(1, abs(mean)), "\(name) mean \(j)")
                XCTAssertEqual(streamed.variance[j], m2 / Double(rows), accuracy: 1e-10 * m2 / Double(rows), "\(name) variance \(j)")
                XCTAssertEqual(streamed.kurtosis[j], kurtosis, accuracy: 1e-10 * kurtosis, "\(name) kurtosis \(j)")
            }
            XCTAssertEqual(first.absMax[j], Float(column.map(abs).max()!))
        }
        XCTAssertGreaterThan(whole.kurtosis[3], 10, "the planted heavy tail")
    }

    /// 256 channels of noise in [−1, 1) with two planted outlier channels: channel 7 at
    /// +100 in every row, channel 20 at −60 in every tenth. Both lie beyond 6σ of their
    /// rows (σ ≈ 7.3 with both present), the noise never does: counts are exact.
    func testPlantedOutlierChannelsAreCountedExactly() {
        var rng = SeededGenerator(seed: 9)
        let width = 256, rows = 1000
        var x = Matrix<Float>.random(rows: rows, cols: width, using: &rng).elements
        for r in 0..<rows {
            x[r * width + 7] = 100
            if r % 10 == 0 { x[r * width + 20] = -60 }
        }
        var outliers = RowOutliers(width: width)
        x.withUnsafeBufferPointer { outliers.add($0.baseAddress!, rows: rows) }
        var expected = [Int](repeating: 0, count: width)
        expected[7] = 1000
        expected[20] = 100
        XCTAssertEqual(outliers.counts, expected)
        XCTAssertEqual(outliers.fraction, 1100 / (1000 * 256), accuracy: 1e-15)
        XCTAssertEqual(outliers.channelFractions[20], 0.1)
    }

    /// A constant row has no deviation and so no outliers (no division by zero).
    func testConstantRowsHaveNoOutliers() {
        let x = [Float](repeating: 3, count: 4 * 8)
        var outliers = RowOutliers(width: 8)
        x.withUnsafeBufferPointer { outliers.add($0.baseAddress!, rows: 4) }
        XCTAssertEqual(outliers.counts, [Int](repeating: 0, count: 8))
        var moments = ChannelMoments(width: 8)
        x.withUnsafeBufferPointer { moments.add($0.baseAddress!, rows: 4) }
        XCTAssertTrue(moments.kurtosis.allSatisfy(\.isNaN))
        XCTAssertEqual(moments.variance, [Double](repeating: 0, count: 8))
    }
}
