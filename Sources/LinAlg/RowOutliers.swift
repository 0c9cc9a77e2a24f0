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
                var sum = 0.0
                for j in 0..<width { sum += Double(row[j]) }
                let mean = sum / n
                var squares = 0.0
                for j in 0..<width { let d = Double(row[j]) - mean; squares += d * d }
                let limit = threshold * (squares / n).squareRoot()
                guard limit > 0 else { continue }
                for j in 0..<width where abs(Double(row[j]) - mean) > limit { counts[j] += 1 }
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
