import Foundation
import H5Store
import ModelIO
import TestSupport
import XCTest

/// `intraslice activations` against an independent computation by HuggingFace transformers.
final class ActivationsReferenceTests: XCTestCase {
    var executable: String { CLITests.executable }

    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
    }

    /// The dense residual stream's top outlier channels at every layer equal those
    /// HuggingFace transformers finds on the same weights and tokens
    /// (`Baselines/activations/top_channels.py`, 4 windows of 512): the same channels in
    /// the same order wherever neighbouring magnitudes differ by more than 0.1 % (closer
    /// ones may swap under float32 rounding), magnitudes within 1e-3 relative, per-channel
    /// means within 1e-3 of the largest mean's magnitude.
    func testTopOutlierChannelsMatchTransformers() throws {
        let file = repositoryRoot.appendingPathComponent("Baselines/activations/smollm2-135m.top_channels.json")
        let reference = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        let layers = try XCTUnwrap(reference["layers"] as? [[String: Any]])
        let folder = try makeTemporaryFolder("activations-reference")
        defer { try? FileManager.default.removeItem(at: folder) }
        let stats = folder.appendingPathComponent("dense.h5").path
        let run = try runProgram(executable, ["activations", "--windows", "\(reference["windows"]!)", "--seqlen", "\(reference["seqlen"]!)",
                                              "--sites", "residual_in", "--top-channels", "16", "--threads", "2", "--output", stats])
        XCTAssertEqual(run.status, 0, run.stderr)
        let h5 = try H5Reader(path: stats)
        XCTAssertEqual(layers.count, 30)
        for entry in layers {
            let layer = entry["layer"] as! Int, group = String(format: "/activations/layer_%02d/residual_in", layer)
            let expectedChannels = (entry["top_channels"] as! [Int]).map(Int64.init), expectedMagnitudes = entry["top_magnitudes"] as! [Double]
            let channels = try h5.read("\(group)/top_channels", as: Int64.self).values
            let magnitudes = try h5.read("\(group)/top_magnitudes", as: Float.self).values.map(Double.init)
            for rank in 0..<16 {
                XCTAssertEqual(magnitudes[rank], expectedMagnitudes[rank], accuracy: 1e-3 * expectedMagnitudes[rank], "layer \(layer) rank \(rank)")
                let separated = (rank == 0 || expectedMagnitudes[rank - 1] > expectedMagnitudes[rank] * 1.001)
                    && (rank == 15 || expectedMagnitudes[rank] > expectedMagnitudes[rank + 1] * 1.001)
                if separated { XCTAssertEqual(channels[rank], expectedChannels[rank], "layer \(layer) rank \(rank)") }
            }
            let expectedMean = entry["mean"] as! [Double], mean = try h5.read("\(group)/mean", as: Double.self).values
            let scale = expectedMean.map(abs).max()!
            for (a, b) in zip(mean, expectedMean) { XCTAssertEqual(a, b, accuracy: 1e-3 * scale, "layer \(layer) mean") }
        }
    }
}
