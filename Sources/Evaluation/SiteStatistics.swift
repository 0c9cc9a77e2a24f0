import Foundation
import H5Store
import LinAlg

/// Everything `intraslice activations` keeps about one capture site of one layer, filled
/// batch by batch as the forward pass goes (no activation tensor is kept): per-channel
/// moments and magnitudes, outliers beyond `outlierSigma` of their token's row, the
/// uncentered second-moment matrix E[x xᵀ] (the matrix SliceGPT's and IntraSlice's PCA
/// take) in float64, and the rows of chosen tokens.
public final class SiteStatistics {
    public let width: Int
    /// The moments of channel ranges, filled in parallel (`channelChunks`).
    private var chunks: [ChannelMoments]
    private let chunkRanges: [Range<Int>]
    private var outliers: [RowOutliers]
    private var covariance: CovarianceAccumulator
    /// Rows of the sampled tokens, in sample order ([samples.count, width]).
    private var samples: [Float]
    private let sampleSlots: [Int: Int]
    /// The spectrum of the second moment, once `computeSpectrum` ran.
    private var eigenvalues: [Double]?

    /// `sampleSlots`: token index in the run → its row among the samples.
    init(width: Int, outlierSigma: Double, sampleSlots: [Int: Int]) {
        self.width = width
        chunkRanges = Self.channelChunks(width)
        chunks = chunkRanges.map { ChannelMoments(width: $0.count) }
        outliers = (0..<Workers.width(for: 4 * BLASThreads.count)).map { _ in RowOutliers(width: width, threshold: outlierSigma) }
        covariance = CovarianceAccumulator(dimension: width, products: .float32)
        self.sampleSlots = sampleSlots
        samples = [Float](repeating: 0, count: sampleSlots.count * width)
    }

    /// Channel ranges that split the per-channel work between the workers.
    static func channelChunks(_ width: Int) -> [Range<Int>] {
        let count = max(1, min(4 * BLASThreads.count, width / 64))
        let size = (width + count - 1) / count
        return stride(from: 0, to: width, by: size).map { $0..<min(width, $0 + size) }
    }

    /// Adds `rows` rows (row r at `x + r·stride`, `width` values): the next tokens of the
    /// run, in order.
    func add(_ x: UnsafePointer<Float>, rows: Int, stride: Int, label: String) throws {
        let firstToken = tokens
        // The per-channel sums over channel chunks, the row outliers over row tiles, each
        // task owning what it writes.
        let chunkRanges = chunkRanges, tiles = Workers.rowTiles(rows)
        chunks.withUnsafeMutableBufferPointer { moments in
            outliers.withUnsafeMutableBufferPointer { outliers in
                Workers.run(tasks: chunkRanges.count + tiles.count) { task, worker in
                    if task < chunkRanges.count {
                        moments[task].add(x + chunkRanges[task].lowerBound, rows: rows, stride: stride)
                    } else {
                        let tile = tiles[task - chunkRanges.count]
                        outliers[worker].add(x + tile.lowerBound * stride, rows: tile.count, stride: stride)
                    }
                }
            }
        }
        try covariance.add(x, rows: rows, stride: stride, label: label)
        for r in 0..<rows {
            guard let slot = sampleSlots[firstToken + r] else { continue }
            for j in 0..<width { samples[slot * width + j] = x[r * stride + j] }
        }
    }

    /// Tokens added so far.
    var tokens: Int { chunks[0].count }

    /// Per-channel moments over every token added.
    var moments: (count: Int, mean: [Double], variance: [Double], kurtosis: [Double], absMax: [Float]) {
        (tokens, chunks.flatMap(\.mean), chunks.flatMap(\.variance), chunks.flatMap(\.kurtosis), chunks.flatMap(\.absMax))
    }

    var rowOutliers: RowOutliers {
        outliers.dropFirst().reduce(into: outliers[0]) { $0.merge($1) }
    }

    /// E[x xᵀ] over the tokens added.
    var secondMoment: Matrix<Double> {
        var m = covariance.matrix
        let scale = 1 / Double(max(1, covariance.count))
        for i in m.elements.indices { m.elements[i] *= scale }
        return m
    }

    /// The eigenvalues of E[x xᵀ] (LAPACK on one thread: a layer's sites can compute theirs
    /// on different workers). Needed before `write`.
    func computeSpectrum() throws { eigenvalues = try symmetricEigenvalues(secondMoment) }

    /// Writes the site's datasets into `group` (see the README's schema).
    func write(to writer: H5Writer, group: String, topChannels: Int, keepCovariance: Bool) throws {
        guard let eigenvalues else { preconditionFailure("write before computeSpectrum") }
        let m = moments
        let outliers = rowOutliers
        try writer.write(m.mean, shape: [width], to: "\(group)/mean")
        try writer.write(m.variance, shape: [width], to: "\(group)/variance")
        try writer.write(m.absMax, shape: [width], to: "\(group)/abs_max")
        try writer.write(m.kurtosis, shape: [width], to: "\(group)/kurtosis")
        try writer.write(outliers.channelFractions, shape: [width], to: "\(group)/outlier_fraction")
        let top = m.absMax.indices.sorted { (m.absMax[$0], $1) > (m.absMax[$1], $0) }.prefix(topChannels)
        try writer.write(top.map { Int64($0) }, shape: [top.count], to: "\(group)/top_channels")
        try writer.write(top.map { m.absMax[$0] }, shape: [top.count], to: "\(group)/top_magnitudes")
        let total = eigenvalues.reduce(0) { $0 + max($1, 0) }
        var kept = 0.0
        let varianceKept = eigenvalues.map { value -> Double in kept += max(value, 0); return total > 0 ? kept / total : 0 }
        try writer.write(eigenvalues, shape: [width], to: "\(group)/eigenvalues")
        try writer.write(varianceKept, shape: [width], to: "\(group)/variance_kept")
        if keepCovariance { try writer.write(secondMoment.elements, shape: [width, width], to: "\(group)/covariance") }
        if !sampleSlots.isEmpty { try writer.write(samples, shape: [sampleSlots.count, width], to: "\(group)/samples") }
        try writer.setAttributes(["width": .int(Int64(width)), "tokens": .int(Int64(m.count)),
                                  "outlier_fraction": .double(outliers.fraction)], on: group)
    }
}
