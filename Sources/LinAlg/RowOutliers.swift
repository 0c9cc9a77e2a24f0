/// Counts, per channel, the rows in which the channel's value lies more than `threshold`
/// standard deviations from its row's mean, mean and deviation taken over the row's
/// channels. A row is one token's activation vector, so this is the outlier a per-token
/// norm or quantiser meets, and it needs no statistics of earlier rows: exact in one pass.
public struct RowOutliers: Sendable {
    public let width: Int
    public let threshold: Double
    /// Rows counted so far.
    public private(set) var rows = 0
    /// Per channel: the rows in which it was an outlier.
    public private(set) var counts: [Int]

    public init(width: Int, threshold: Double = 6) {
        precondition(width > 0 && threshold > 0)
        self.width = width
        self.threshold = threshold
        counts = Array(repeating: 0, count: width)
    }

    /// Adds `rows` rows of `width` values, row r at `x + r·stride` (default `width`).
    public mutating func add(_ x: UnsafePointer<Float>, rows: Int, stride: Int? = nil) {
        let n = Double(width), stride = stride ?? width
        precondition(stride >= width)
        counts.withUnsafeMutableBufferPointer { counts in
            for r in 0..<rows {
                let row = x + r * stride
                // Σx and Σx² in float64, eight lanes at a time; the variance as E[x²] − mean²
                // loses nothing that matters in float64 for rows of float32 values.
                var sums = SIMD8<Double>(), squares = SIMD8<Double>()
                var j = 0
                while j + 8 <= width {
                    let v = SIMD8<Double>(UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self))
                    sums += v
                    squares += v * v
                    j += 8
                }
                var sum = sums.sum(), square = squares.sum()
                while j < width { let v = Double(row[j]); sum += v; square += v * v; j += 1 }
                let mean = sum / n
                let limit = threshold * max(square / n - mean * mean, 0).squareRoot()
                guard limit > 0 else { continue }
                for j in 0..<width { counts[j] &+= abs(Double(row[j]) - mean) > limit ? 1 : 0 }
            }
        }
        self.rows += rows
    }

    /// Outliers among all values counted.
    public var fraction: Double { rows > 0 ? Double(counts.reduce(0, +)) / (Double(rows) * Double(width)) : 0 }

    /// Per channel: the share of rows in which it was an outlier.
    public var channelFractions: [Double] { counts.map { rows > 0 ? Double($0) / Double(rows) : 0 } }

    public mutating func merge(_ other: RowOutliers) {
        precondition(other.width == width && other.threshold == threshold)
        for j in 0..<width { counts[j] += other.counts[j] }
        rows += other.rows
    }
}
