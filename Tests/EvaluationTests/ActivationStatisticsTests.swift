import Foundation
import H5Store
import LinAlg
import TestSupport
import Transformer
import XCTest

@testable import Evaluation

/// The activation statistics of a synthetic stream fed to the collector as the forward
/// pass feeds it (calls of rows in token order), written and read back through the HDF5
/// schema: moments, outliers, top channels, spectra and kept rows against a direct
/// computation on the same rows.
final class ActivationStatisticsTests: XCTestCase {
    /// A layer with 2 query heads and 1 KV head of size 4: the captured q/k/v rows are 16
    /// wide, the queries columns 0..<8 and the keys 8..<12.
    let attention = Attention(numHeads: 2, numKVHeads: 1, qkHeadDim: 4, vHeadDim: 4, ropeInverseFrequencies: [1, 0.5],
                              wq: Matrix(rows: 8, cols: 48), wk: Matrix(rows: 4, cols: 48), wv: Matrix(rows: 4, cols: 48), wo: Matrix(rows: 48, cols: 8))

    /// 1,200 rows of 256 channels: noise in [−1, 1) around per-channel offsets, channel 5 at
    /// +80 in every row and channel 17 at −50 in every fourth row (both beyond 6σ of their
    /// rows, σ ≤ 6 with both present; the noise never). With fewer channels a row's largest
    /// deviation is bounded (√(n − 1) σ for one outlier), and two would hide each other.
    func stream() -> Matrix<Float> {
        var rng = SeededGenerator(seed: 3)
        var x = Matrix<Float>.random(rows: 1200, cols: 256, using: &rng)
        for r in 0..<x.rows {
            for j in 0..<256 { x[r, j] += Float(j % 7) * 0.25 }
            x[r, 5] = 80
            if r % 4 == 0 { x[r, 17] = -50 }
        }
        return x
    }

    func collect(_ x: Matrix<Float>, site: CaptureSite, sites: [ActivationSite], samples: [Int]) throws -> ActivationCollector {
        let collector = ActivationCollector(layer: 3, attention: attention, sites: sites, sampleTokens: samples)
        try x.elements.withUnsafeBufferPointer { p in
            for (start, rows) in [(0, 500), (500, 1), (501, 699)] {  // three calls, one of a single row
                try collector.observe(layer: 3, site: site, activations: UnsafeBufferPointer(rebasing: p[(start * x.cols)..<((start + rows) * x.cols)]),
                                      rows: rows, width: x.cols)
            }
        }
        return collector
    }

    func testStatisticsOfAPlantedStreamMatchADirectComputation() throws {
        let x = stream(), n = Double(x.rows)
        let samples = [0, 499, 500, 1199]
        let collector = try collect(x, site: .residualIn, sites: [.residualIn], samples: samples)
        let file = try makeTemporaryFolder("activation-statistics").appendingPathComponent("stats.h5")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let writer = try H5Writer(path: file.path)
        try collector.statistics[.residualIn]!.computeSpectrum()
        try collector.statistics[.residualIn]!.write(to: writer, group: "/activations/layer_03/residual_in", topChannels: 4, keepCovariance: true)
        try writer.commit()

        let h5 = try H5Reader(path: file.path), group = "/activations/layer_03/residual_in"
        XCTAssertEqual(Set(try h5.children(of: group)), ["mean", "variance", "abs_max", "kurtosis", "outlier_fraction", "top_channels",
                                                         "top_magnitudes", "eigenvalues", "variance_kept", "covariance", "samples"])
        let mean = try h5.read("\(group)/mean", as: Double.self, expectedShape: [256])
        let variance = try h5.read("\(group)/variance", as: Double.self, expectedShape: [256])
        let kurtosis = try h5.read("\(group)/kurtosis", as: Double.self, expectedShape: [256])
        for j in 0..<256 where j != 5 {
            let column = (0..<x.rows).map { Double(x[$0, j]) }
            let mu = column.reduce(0, +) / n
            let m2 = column.reduce(0) { $0 + pow($1 - mu, 2) }, m4 = column.reduce(0) { $0 + pow($1 - mu, 4) }
            XCTAssertEqual(mean[j], mu, accuracy: 1e-12 * max(1, abs(mu)), "mean \(j)")
            XCTAssertEqual(variance[j], m2 / n, accuracy: 1e-10 * m2 / n, "variance \(j)")
            XCTAssertEqual(kurtosis[j], n * m4 / (m2 * m2), accuracy: 1e-9 * kurtosis[j], "kurtosis \(j)")
        }
        XCTAssertEqual(mean[5], 80)
        XCTAssertEqual(variance[5], 0)
        XCTAssertTrue(kurtosis[5].isNaN, "a constant channel has no kurtosis")

        var outliers = [Double](repeating: 0, count: 256)
        outliers[5] = 1
        outliers[17] = 0.25
        XCTAssertEqual(try h5.read("\(group)/outlier_fraction", as: Double.self, expectedShape: [256]), outliers)
        XCTAssertEqual(try h5.attribute("outlier_fraction", of: group), .double(1.25 / 256))
        XCTAssertEqual(try h5.attribute("tokens", of: group), .int(1200))
        let top = try h5.read("\(group)/top_channels", as: Int64.self, expectedShape: [4])
        XCTAssertEqual(Array(top.prefix(2)), [5, 17])
        XCTAssertEqual(try h5.read("\(group)/top_magnitudes", as: Float.self, expectedShape: [4]).prefix(2), [80, 50])
        XCTAssertEqual(try h5.read("\(group)/abs_max", as: Float.self, expectedShape: [256])[17], 50)

        // E[x xᵀ] and its spectrum against a direct product and eigendecomposition.
        let gram = matmul(x.asDouble, x.asDouble, transposeA: true)
        let direct = Matrix(rows: 256, cols: 256, elements: gram.elements.map { $0 / n })
        let covariance = Matrix(rows: 256, cols: 256, elements: try h5.read("\(group)/covariance", as: Double.self, expectedShape: [256, 256]))
        XCTAssertLessThan((covariance - direct).frobeniusNorm, 1e-6 * direct.frobeniusNorm, "float32 block products, float64 sums")
        let eigenvalues = try h5.read("\(group)/eigenvalues", as: Double.self, expectedShape: [256])
        let expected = try symmetricEigen(direct).values
        for (a, b) in zip(eigenvalues, expected) { XCTAssertEqual(a, b, accuracy: 1e-6 * expected[0]) }
        let kept = try h5.read("\(group)/variance_kept", as: Double.self, expectedShape: [256])
        XCTAssertEqual(kept[0], expected[0] / expected.reduce(0, +), accuracy: 1e-6)
        XCTAssertEqual(kept[255], 1, accuracy: 1e-12)
        XCTAssertTrue(zip(kept, kept.dropFirst()).allSatisfy { $0 <= $1 })

        let rows = try h5.read("\(group)/samples", as: Float.self, expectedShape: [4, 256])
        for (slot, token) in samples.enumerated() {
            XCTAssertEqual(Array(rows[(slot * 256)..<((slot + 1) * 256)]), Array(x.elements[(token * 256)..<((token + 1) * 256)]), "token \(token)")
        }
    }

    /// KL of two rows of 49,153 logits (not a multiple of 8) against a float64 computation:
    /// within 1e-5 relative; a row against itself gives exactly 0.
    func testNextTokenKLMatchesAFloat64Computation() {
        var rng = SeededGenerator(seed: 8)
        let count = 49_153
        let p = (0..<count).map { _ in Float.random(in: -8..<12, using: &rng) }
        let q = p.map { $0 + Float.random(in: -1..<1, using: &rng) }
        func logZ(_ x: [Float]) -> Double { let m = Double(x.max()!); return m + log(x.reduce(0.0) { $0 + exp(Double($1) - m) }) }
        let zp = logZ(p), zq = logZ(q)
        let expected = zip(p, q).reduce(0.0) { sum, pair in
            let lp = Double(pair.0) - zp
            return sum + exp(lp) * (lp - (Double(pair.1) - zq))
        }
        let kl = p.withUnsafeBufferPointer { a in q.withUnsafeBufferPointer { b in klDivergence(reference: a.baseAddress!, model: b.baseAddress!, count: count) } }
        XCTAssertEqual(kl, expected, accuracy: 1e-5 * expected)
        XCTAssertEqual(p.withUnsafeBufferPointer { klDivergence(reference: $0.baseAddress!, model: $0.baseAddress!, count: count) }, 0)
    }

    /// The queries and keys are the first 8 and the next 4 columns of the captured rows.
    func testQueriesAndKeysAreTheirColumnsOfTheCapturedRows() throws {
        var rng = SeededGenerator(seed: 4)
        let qkv = Matrix<Float>.random(rows: 1200, cols: 16, using: &rng)
        let collector = try collect(qkv, site: .queryKeyValue, sites: [.query, .key], samples: [])
        for (site, columns) in [(ActivationSite.query, 0..<8), (.key, 8..<12)] {
            let m = try XCTUnwrap(collector.statistics[site]).moments
            XCTAssertEqual(m.mean.count, columns.count)
            for (j, column) in columns.enumerated() {
                let values = (0..<qkv.rows).map { Double(qkv[$0, column]) }
                XCTAssertEqual(m.mean[j], values.reduce(0, +) / 1200, accuracy: 1e-12, "\(site) channel \(j)")
                XCTAssertEqual(m.absMax[j], Float(values.map(abs).max()!))
            }
        }
        // The keys' second moment is taken from their columns in place (stride 16).
        let keys = Matrix(rows: 1200, cols: 4, elements: (0..<1200).flatMap { r in (8..<12).map { Double(qkv[r, $0]) } })
        let direct = matmul(keys, keys, transposeA: true)
        let collected = try XCTUnwrap(collector.statistics[.key]).secondMoment
        for i in 0..<4 { for j in 0..<4 { XCTAssertEqual(collected[i, j], direct[i, j] / 1200, accuracy: 1e-6 * abs(direct[i, i]) / 1200) } }
        XCTAssertNil(collector.statistics[.residualIn], "a site not asked for is not collected")
        XCTAssertFalse(collector.wants(layer: 2, site: .queryKeyValue), "another layer's rows are not wanted")
    }
}
