import Datasets
import Foundation
import H5Store
import LinAlg
import ModelIO
@testable import Pruning
import TestSupport
import Transformer
import XCTest

/// The whole `prune` job on the real SmolLM2: the folder reloads into the same logits, says
/// how it was made, and nothing is left behind when a run fails.
final class PrunedFolderTests: XCTestCase {
    let smallCalibration = CalibrationSettings(source: "wiki", samples: 4, seqlen: 128, sampling: .sequential)

    func testIntraSliceFolderReloadsBitIdenticalAndDescribesItself() throws {
        let loaded = try InvarianceTests.smolLM2()
        let folder = try makeTemporaryFolder("pruned-intraslice")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("model").path
        let job = try PruningJob(method: "intraslice", ratio: try PruningRatio(0.25, kind: .params), calibration: smallCalibration)
        let outcome = try job.run(loaded, sourceSHA256: "test-hash", output: OutputFolder(output, overwrite: false)) { _ in }
        XCTAssertEqual(1 - Double(outcome.after.decoderLayers) / Double(outcome.before.decoderLayers), 0.25, accuracy: 0.01)

        let back = try ModelLoader.load(output)
        XCTAssertEqual(back.model.parameterCounts, outcome.after)
        XCTAssertEqual(back.tokenizer.encode("Structured pruning", addSpecialTokens: false),
                       loaded.tokenizer.encode("Structured pruning", addSpecialTokens: false), "the tokenizer comes from the source GGUF")
        let tokens = try InvarianceTests.evaluationTokens(loaded)
        XCTAssertEqual(try back.model.hiddenStates(tokens: tokens, batch: 2).elements,
                       try outcome.model.hiddenStates(tokens: tokens, batch: 2).elements, "bit-identical after reload")

        let metadata = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + "/pruning.json"))) as! [String: Any]
        XCTAssertEqual(metadata["method"] as? String, "intraslice")
        XCTAssertEqual((metadata["source_model"] as? [String: Any])?["sha256"] as? String, "test-hash")
        XCTAssertEqual((metadata["calibration"] as? [String: Any])?["offsets"] as? [Int], [0, 128, 256, 384])
        XCTAssertEqual((metadata["parameters_after"] as? [String: Int])?["decoder_layers"], outcome.after.decoderLayers)
        XCTAssertNotNil((metadata["timings"] as? [String: Double])?["prune_s"])

        let h5 = try H5Reader(path: output + "/statistics.h5")
        let kept = try h5.read("/statistics/layer_00/wdown_input/kept_channels", as: Int64.self).values
        XCTAssertEqual(kept.count, back.model.layers[0].mlp.width)
        let error = try h5.read("/statistics/layer_05/wdown_input/relative_output_error", as: Double.self).values
        XCTAssertGreaterThan(error[0], 0)
        XCTAssertLessThan(error[0], 1)
    }

    func testFailedRunLeavesNoFolderAndExistingOutputIsKept() throws {
        let loaded = try InvarianceTests.smolLM2()
        let folder = try makeTemporaryFolder("pruned-failures")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("model").path

        let tooLong = CalibrationSettings(source: "wiki", samples: 10_000, seqlen: 2048, sampling: .sequential)
        let job = try PruningJob(method: "wanda", ratio: try PruningRatio(0.2, kind: .slicing), calibration: tooLong)
        XCTAssertThrowsError(try job.run(loaded, sourceSHA256: "x", output: OutputFolder(output, overwrite: false)) { _ in }) {
            XCTAssertTrue("\($0)".contains("calibration shorter than requested"), "\($0)")
        }
        var nanModel = loaded.model
        nanModel.layers[2].attention.wo.elements[10] = .nan
        let nanLoaded = LoadedModel(model: nanModel, tokenizer: loaded.tokenizer, name: loaded.name, path: loaded.path, loadSeconds: 0)
        let intraslice = try PruningJob(method: "intraslice", ratio: try PruningRatio(0.2, kind: .slicing), calibration: smallCalibration)
        XCTAssertThrowsError(try intraslice.run(nanLoaded, sourceSHA256: "x", output: OutputFolder(output, overwrite: false)) { _ in }) {
            XCTAssertTrue("\($0)".contains("NaN or Inf"), "\($0)")
        }
        // A dead MLP (zero gate and up weights) has a zero Wdown-input covariance: damping by
        // a fraction of its mean diagonal leaves it singular, and the least-squares
        // compensation cannot be solved.
        var deadModel = loaded.model
        deadModel.layers[3].mlp.wGateUp = Matrix(rows: deadModel.layers[3].mlp.wGateUp.rows, cols: deadModel.layers[3].mlp.wGateUp.cols)
        let deadLoaded = LoadedModel(model: deadModel, tokenizer: loaded.tokenizer, name: loaded.name, path: loaded.path, loadSeconds: 0)
        XCTAssertThrowsError(try intraslice.run(deadLoaded, sourceSHA256: "x", output: OutputFolder(output, overwrite: false)) { _ in }) {
            XCTAssertTrue("\($0)".contains("layer 3: the covariance of the kept MLP channels is not positive definite after damping"), "\($0)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [], "no folder, no partial folder")

        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let magnitude = try PruningJob(method: "magnitude", ratio: try PruningRatio(0.2, kind: .slicing), calibration: nil)
        XCTAssertThrowsError(try magnitude.run(loaded, sourceSHA256: "x", output: OutputFolder(output, overwrite: false)) { _ in }) {
            XCTAssertTrue("\($0)".contains("already exists"), "\($0)")
        }
    }

    func testCalibrationRefusesTheTestTextAndDrawsSeededWindows() throws {
        let loaded = try InvarianceTests.smolLM2()
        XCTAssertThrowsError(try CalibrationSet(CalibrationSettings(source: "wikitext2", samples: 2, seqlen: 64), tokenizer: loaded.tokenizer)) {
            XCTAssertTrue("\($0)".contains("perplexity test text"), "\($0)")
        }
        let path = try TextCorpus.load("wikitext2").source.path
        XCTAssertThrowsError(try CalibrationSet(CalibrationSettings(source: path, samples: 2, seqlen: 64), tokenizer: loaded.tokenizer),
                             "the same text given by path is recognised by its hash")
        XCTAssertNoThrow(try CalibrationSet(CalibrationSettings(source: "wikitext2", samples: 2, seqlen: 64, allowTestText: true),
                                            tokenizer: loaded.tokenizer))
        let a = try CalibrationSet(CalibrationSettings(samples: 3, seqlen: 64, seed: 5), tokenizer: loaded.tokenizer)
        let b = try CalibrationSet(CalibrationSettings(samples: 3, seqlen: 64, seed: 5), tokenizer: loaded.tokenizer)
        let c = try CalibrationSet(CalibrationSettings(samples: 3, seqlen: 64, seed: 6), tokenizer: loaded.tokenizer)
        XCTAssertEqual(a.offsets, b.offsets)
        XCTAssertNotEqual(a.offsets, c.offsets)
        XCTAssertEqual(a.corpus, "wiki")
        XCTAssertFalse(a.windows.joined().contains(where: { loaded.tokenizer.token(for: $0) == "<doc" }))
    }

    /// The least-squares compensation of the MLP lowers the reconstruction error of the MLP
    /// outputs and the perplexity, against selection alone. The fit has 1,536-channel
    /// covariances: with 2,048 calibration tokens it overfits and the perplexity goes up, so
    /// this uses 16 windows of 512 (8,192 tokens); perplexity on 8 WikiText-2 windows of 512.
    func testMLPCompensationLowersErrorAndPerplexity() throws {
        let loaded = try InvarianceTests.smolLM2()
        let calibration = try InvarianceTests.calibration(loaded, samples: 16, seqlen: 512)
        var results: [(errors: [Double], nll: Double)] = []
        let corpus = try TextCorpus.load("wikitext2")
        let ids = Array(loaded.tokenizer.encode(corpus.bytes, addSpecialTokens: true).prefix(8 * 512))
        for compensation in [true, false] {
            var model = loaded.model
            let statistics = try IntraSlice(options: MethodOptions(mlpCompensation: compensation)).prune(
                &model, context: PruningContext(ratio: try PruningRatio(0.3, kind: .slicing), calibration: calibration))
            let errors = model.layers.indices.map { statistics.value(layer: $0, site: .downProjectionInput, "relative_output_error")![0] }
            let hidden = try model.hiddenStates(tokens: ids, batch: 8)
            var targets = [Int32](repeating: -1, count: ids.count)
            for w in 0..<8 { for t in 0..<511 { targets[w * 512 + t] = ids[w * 512 + t + 1] } }
            let nll = model.negativeLogLikelihoods(hidden: hidden, targets: targets).reduce(0, +) / Double(8 * 511)
            results.append((errors, nll))
        }
        print("MLP compensation: mean relative MLP output error \(results[0].errors.reduce(0, +) / 30) vs \(results[1].errors.reduce(0, +) / 30); "
              + "ppl \(exp(results[0].nll)) vs \(exp(results[1].nll))")
        XCTAssertLessThan(results[0].errors[0], results[1].errors[0], "layer 0 sees the same inputs either way")
        XCTAssertLessThan(results[0].errors.reduce(0, +), results[1].errors.reduce(0, +))
        XCTAssertLessThan(results[0].nll, results[1].nll)
    }

    /// The reconstruction errors IntraSlice records come from quadratic forms in its Gram
    /// matrices; on layer 0 (whose input, the embeddings, pruning does not change) they
    /// equal ‖y − ref‖² / ‖ref − x‖² from forward passes of the pruned and unpruned modules
    /// on the same calibration rows, within the float32 rounding of those sums (1e-3 relative).
    func testRecordedErrorsMatchDirectForwardPasses() throws {
        let loaded = try InvarianceTests.smolLM2()
        let calibration = try InvarianceTests.calibration(loaded, samples: 4, seqlen: 128)
        var pruned = loaded.model
        let statistics = try IntraSlice(options: MethodOptions()).prune(
            &pruned, context: PruningContext(ratio: try PruningRatio(0.3, kind: .slicing), calibration: calibration))
        func error(_ y: Matrix<Float>, _ reference: Matrix<Float>, _ base: Matrix<Float>) -> Double {
            let e = (y - reference).frobeniusNorm, s = (reference - base).frobeniusNorm
            return e * e / (s * s)
        }
        let states = try loaded.model.embeddings(Array(calibration.windows.joined()))
        let middle = try pruned.attentionHalf(0, states: states, batch: 4)
        let attention = error(middle, try loaded.model.attentionHalf(0, states: states, batch: 4), states)
        var unprunedMLP = pruned
        unprunedMLP.layers[0].mlp = loaded.model.layers[0].mlp
        let mlp = error(try pruned.mlpHalf(0, states: middle), try unprunedMLP.mlpHalf(0, states: middle), middle)
        let recordedAttention = statistics.value(layer: 0, site: .outputProjectionInput, "relative_output_error")![0]
        let recordedMLP = statistics.value(layer: 0, site: .downProjectionInput, "relative_output_error")![0]
        print("layer 0 relative errors: attention recorded \(recordedAttention) vs direct \(attention); MLP \(recordedMLP) vs \(mlp)")
        XCTAssertGreaterThan(attention, 1e-4, "something was pruned")
        XCTAssertEqual(recordedAttention, attention, accuracy: 1e-3 * attention)
        XCTAssertEqual(recordedMLP, mlp, accuracy: 1e-3 * mlp)
    }
}
