/// Per-channel moments of rows that arrive in blocks, in one pass: mean, variance,
/// kurtosis and the largest magnitude of each of `width` channels.
///
/// Raw power sums (Σx, Σx², Σx⁴) lose everything to cancellation when a channel's mean is
/// large against its spread, as in the residual stream's massive-activation channels. So
/// each block's central moments are formed around the block's own mean (two passes over a
/// block that stays in cache) and joined to the running ones by the pairwise update of
/// Pébay (2008, Sandia report SAND2008-6212, eqs. 1.1, 3.1, 3.4): the result equals a
/// two-pass computation over all rows up to float64 rounding.
public struct ChannelMoments: Sendable {
    public let width: Int
    /// Rows (tokens) added so far.
    public private(set) var count = 0
    public private(set) var mean: [Double]
    /// Σ(x − mean)ᵏ per channel, for k = 2, 3, 4.
    private var m2: [Double], m3: [Double], m4: [Double]
    public private(set) var absMax: [Float]
    private var block: BlockMoments

    /// Rows taken per block (a block of 256 rows of 4,864 channels is 5 MB of Float).
    static let blockRows = 256

    public init(width: Int) {
        precondition(width > 0)
        self.width = width
        mean = Array(repeating: 0, count: width)
        m2 = mean; m3 = mean; m4 = mean
        absMax = Array(repeating: 0, count: width)
        block = BlockMoments(width: width)
    }

    /// Adds `rows` rows of `width` values at `x`, row r starting at `x + r·stride` (default
    /// `width`; a larger stride takes a range of a wider row's channels).
    public mutating func add(_ x: UnsafePointer<Float>, rows: Int, stride: Int? = nil) {
        let stride = stride ?? width
        precondition(stride >= width)
        var start = 0
        while start < rows {
            let b = min(Self.blockRows, rows - start)
            block.compute(x + start * stride, rows: b, stride: stride, absMax: &absMax)
            join(block, rows: b)
            start += b
        }
    }

    /// Adds the rows another accumulator took (as if they had been added here).
    public mutating func merge(_ other: ChannelMoments) {
        precondition(other.width == width, "merging moments of \(other.width) channels into \(width)")
        guard other.count > 0 else { return }
        join(BlockMoments(mean: other.mean, m2: other.m2, m3: other.m3, m4: other.m4), rows: other.count)
        for j in 0..<width { absMax[j] = max(absMax[j], other.absMax[j]) }
    }

    /// The population variance (÷ n) per channel.
    public var variance: [Double] { m2.map { count > 0 ? $0 / Double(count) : .nan } }

    /// Pearson's kurtosis n·M4 / M2² per channel (3 for a normal distribution, 1.8 for a
    /// uniform one); NaN for a constant channel.
    public var kurtosis: [Double] {
        (0..<width).map { j in m2[j] > 0 ? Double(count) * m4[j] / (m2[j] * m2[j]) : .nan }
    }

    /// Joins moments of `nb` rows (`b`) to the running ones.
    private mutating func join(_ b: BlockMoments, rows nb: Int) {
        let na = Double(count), nbD = Double(nb), n = na + nbD
        defer { count += nb }
        guard count > 0 else {
            mean = b.mean; m2 = b.m2; m3 = b.m3; m4 = b.m4
            return
        }
        let ab = na * nbD
        for j in 0..<width {
            let delta = b.mean[j] - mean[j], d2 = delta * delta
            let a2 = m2[j], a3 = m3[j], b2 = b.m2[j], b3 = b.m3[j]
            m4[j] += b.m4[j] + d2 * d2 * ab * (na * na - ab + nbD * nbD) / (n * n * n)
                + 6 * d2 * (na * na * b2 + nbD * nbD * a2) / (n * n) + 4 * delta * (na * b3 - nbD * a3) / n
            m3[j] += b3 + d2 * delta * ab * (na - nbD) / (n * n) + 3 * delta * (na * b2 - nbD * a2) / n
            m2[j] += b2 + d2 * ab / n
            mean[j] += delta * nbD / n
        }
    }
}

/// One block's per-channel mean and central moment sums, formed around the block's mean.
struct BlockMoments: Sendable {
    var mean: [Double], m2: [Double], m3: [Double], m4: [Double]

    init(width: Int) {
        mean = Array(repeating: 0, count: width)
        m2 = mean; m3 = mean; m4 = mean
    }

    init(mean: [Double], m2: [Double], m3: [Double], m4: [Double]) {
        self.mean = mean; self.m2 = m2; self.m3 = m3; self.m4 = m4
    }

    /// The moments of `rows` rows at `x` (`stride` apart); raises `absMax` to the block's magnitudes.
    mutating func compute(_ x: UnsafePointer<Float>, rows: Int, stride: Int, absMax: inout [Float]) {
        let width = mean.count
        mean.withUnsafeMutableBufferPointer { mu in
            m2.withUnsafeMutableBufferPointer { s2 in
                m3.withUnsafeMutableBufferPointer { s3 in
                    m4.withUnsafeMutableBufferPointer { s4 in
                        absMax.withUnsafeMutableBufferPointer { top in
                            for j in 0..<width { mu[j] = 0; s2[j] = 0; s3[j] = 0; s4[j] = 0 }
                            for r in 0..<rows {
                                let row = x + r * stride
                                for j in 0..<width {
                                    mu[j] += Double(row[j])
                                    top[j] = max(top[j], abs(row[j]))
                                }
                            }
                            let scale = 1 / Double(rows)
                            for j in 0..<width { mu[j] *= scale }
                            for r in 0..<rows {
                                let row = x + r * stride
                                for j in 0..<width {
                                    let d = Double(row[j]) - mu[j], d2 = d * d
                                    s2[j] += d2
                                    s3[j] += d2 * d
                                    s4[j] += d2 * d2
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
