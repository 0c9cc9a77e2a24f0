import Datasets
import Foundation
import LinAlg
import ModelIO
@testable import Pruning
import TestSupport
import Transformer
@testable import Transformer
import XCTest

/// Shapes, counts and refusals of the four methods, on tiny generated models.
final class MethodTests: XCTestCase {
    /// 3 random windows of 12 tokens over the tiny vocabulary.
    let calibration: CalibrationSet = {
        var rng = SeededGenerator(seed: 3)
        return CalibrationSet(windows: (0..<3).map { _ in (0..<12).map { _ in Int32.random(in: 0..<50, using: &rng) } }, corpus: "random ids")
    }()

    func prune(_ method: String, _ model: inout TransformerModel, ratio: Double, kind: RatioKind = .slicing,
               options: MethodOptions = MethodOptions()) throws -> PruningStatistics {
        let m = try PruningMethods.make(method, options: options)
        try m.check(ArchitectureAdapter(model))
        return try m.prune(&model, context: PruningContext(ratio: try PruningRatio(ratio, kind: kind), calibration: calibration))
    }

    func testMagnitudeRemovesWholeKVGroupsAndMultiplesOfEightChannels() throws {
        var model = TinyModels.model("llama")
        let before = model.parameterCounts
        let statistics = try prune("magnitude", &model, ratio: 0.5)
        for layer in model.layers {
            XCTAssertEqual(layer.attention.numKVHeads, 1, "round(0.5 · 2 groups) = 1 group removed")
            XCTAssertEqual(layer.attention.numHeads, 2, "with its 2 query heads")
            XCTAssertEqual(layer.mlp.width, 24, "40 − 16 channels (20 rounded down to 8)")
        }
        // Each layer: Wq, Wk, Wv, Wo halve (4·24·24/2·… ) and the MLP loses 16 of 40 channels.
        let removedPerLayer = (24 * 12 + 24 * 6 + 24 * 6 + 24 * 12) + 3 * 24 * 16
        XCTAssertEqual(model.parameterCounts.decoderLayers, before.decoderLayers - 3 * removedPerLayer)
        // The kept group is the one with the larger summed squared Wo columns.
        let original = TinyModels.model("llama").layers[0].attention
        let scores = statistics.value(layer: 0, site: .outputProjectionInput, "group_scores")!
        let expected = (0..<2).map { g in original.queryHeads(ofKVHead: g).flatMap { Attention.span(head: $0, size: 6) }
            .reduce(0.0) { sum, j in sum + (0..<24).reduce(0.0) { $0 + pow(Double(original.wo[$1, j]), 2) } } }
        for g in 0..<2 { XCTAssertEqual(scores[g], expected[g], accuracy: 1e-9) }
        let keptGroup = scores[0] > scores[1] ? 0 : 1
        XCTAssertEqual(statistics.value(layer: 0, site: .outputProjectionInput, "kept_query_heads"), original.queryHeads(ofKVHead: keptGroup).map(Double.init))
    }

    func testParameterRatioComesWithinOneEightChannelStep() throws {
        for method in ["magnitude", "wanda", "intraslice"] {
            var model = TinyModels.model("llama")
            let before = model.parameterCounts.decoderLayers
            _ = try prune(method, &model, ratio: 0.3, kind: .params)
            let reduction = 1 - Double(model.parameterCounts.decoderLayers) / Double(before)
            let step = Double(3 * 24 * 8 * 3) / Double(before)  // 8 MLP channels in each of the 3 layers
            XCTAssertEqual(reduction, 0.3, accuracy: step / 2 + 1e-9, method)
        }
    }

    /// Wanda rebuilds each layer's outputs from recorded projection inputs instead of
    /// rerunning the pruned modules; its layer-1 MLP scores must equal those of activations
    /// that ran through the pruned layer 0 and layer 1's pruned attention directly.
    func testWandaScoresActivationsThatRanThroughThePrunedLayers() throws {
        for architecture in ["llama", "gemma3"] {
            let original = TinyModels.model(architecture)
            var model = original
            let statistics = try prune("wanda", &model, ratio: 0.5)
            XCTAssertEqual(model.layers[1].attention.numKVHeads, 1, "a KV group is removed, so the attention output is rebuilt from the kept heads")
            var probe = model
            probe.layers[1].mlp = original.layers[1].mlp
            var sums = [Double](repeating: 0, count: original.layers[1].mlp.width)
            for window in calibration.windows {
                let layer0 = try probe.mlpHalf(0, states: try probe.attentionHalf(0, states: try probe.embeddings(window), batch: 1))
                let down = try probe.downProjectionInputs(1, states: try probe.attentionHalf(1, states: layer0, batch: 1))
                for r in 0..<down.rows { for j in 0..<down.cols { sums[j] += Double(down[r, j] * down[r, j]) } }
            }
            let w = original.layers[1].mlp.wDown
            let expected = (0..<w.cols).map { j in sums[j].squareRoot() * (0..<w.rows).reduce(0.0) { $0 + Double(abs(w[$1, j])) } }
            let scores = statistics.value(layer: 1, site: .downProjectionInput, "channel_scores")!
            for j in 0..<w.cols { XCTAssertEqual(scores[j], expected[j], accuracy: 1e-5 * expected[j], "\(architecture) channel \(j)") }
        }
    }

    func testSliceGPTCountsItsShortcutsAndParamsRatioSolvesForTheWidth() throws {
        var model = TinyModels.model("llama")
        let before = model.parameterCounts.decoderLayers
        var fused = model
        try ArchitectureAdapter(fused).fuseNorms(&fused)
        _ = try prune("slicegpt", &model, ratio: 0.25)
        XCTAssertEqual(model.embeddingWidth, 16, "⌊0.75 · 24⌋ = 18, rounded down to 16")
        XCTAssertEqual(model.layers.last!.outputWidth, 24, "the head is not sliced by default")
        XCTAssertEqual(model.parameterCounts.shortcuts, 5 * 16 * 16 + 24 * 16)
        XCTAssertEqual(model.parameterCounts.decoderLayers, SliceGPT.decoderParameters(fused, width: 16, sliceHead: false))

        var byParams = TinyModels.model("llama")
        _ = try prune("slicegpt", &byParams, ratio: 0.1, kind: .params)
        let width = byParams.embeddingWidth
        let best = stride(from: 8, through: 24, by: 8).min {
            abs(Double(SliceGPT.decoderParameters(fused, width: $0, sliceHead: false)) - 0.9 * Double(before))
                < abs(Double(SliceGPT.decoderParameters(fused, width: $1, sliceHead: false)) - 0.9 * Double(before))
        }
        XCTAssertEqual(width, best)
    }

    func testIntraSliceShrinksHeadsPairsAndChannelsWithoutAddingParameters() throws {
        var model = TinyModels.model("llama")
        let statistics = try prune("intraslice", &model, ratio: 0.4)
        for (index, layer) in model.layers.enumerated() {
            let a = layer.attention
            XCTAssertNil(layer.attentionShortcut)
            XCTAssertEqual(a.qkHeadDim % 2, 0)
            XCTAssertLessThanOrEqual(a.numHeads * a.vHeadDim, 24)
            XCTAssertEqual(layer.mlp.width, 40 - 16, "round(0.4 · 40) = 16 channels removed")
            XCTAssertEqual(a.ropeInverseFrequencies.count * 2, a.qkHeadDim * (a.ropeSegments == nil ? 1 : a.numKVHeads))
            XCTAssertNotNil(statistics.value(layer: index, site: .downProjectionInput, "relative_output_error"))
        }
        XCTAssertEqual(model.parameterCounts.shortcuts, 0)
        XCTAssertNoThrow(try model.hiddenStates(tokens: [1, 2, 3, 4]))
    }

    func testRefusalsAreClearErrors() throws {
        XCTAssertThrowsError(try PruningRatio(0.96, kind: .slicing)) { XCTAssertTrue("\($0)".contains("outside [0.0, 0.95]"), "\($0)") }
        XCTAssertThrowsError(try PruningRatio(-0.1, kind: .params))
        let gemma = ArchitectureAdapter(TinyModels.model("gemma3"))
        XCTAssertThrowsError(try PruningMethods.make("slicegpt").check(gemma)) {
            XCTAssertTrue("\($0)".contains("post-attention/post-MLP RMSNorms"), "\($0)")
        }
        for method in ["magnitude", "wanda", "intraslice"] {
            XCTAssertNoThrow(try PruningMethods.make(method).check(gemma), method)
        }
        XCTAssertThrowsError(try PruningMethods.make("obs")) { XCTAssertTrue("\($0)".contains("unknown method 'obs'"), "\($0)") }

        var broken = TinyModels.model("llama")
        broken.layers[1].mlp.wDown.elements[5] = .infinity
        XCTAssertThrowsError(try prune("intraslice", &broken, ratio: 0.2)) {
            XCTAssertTrue("\($0)".contains("layer 1 produced NaN or Inf"), "\($0)")
        }
    }

    func testGemmaIntraSliceKeepsQueryKeyPairs() throws {
        var model = TinyModels.model("gemma3")
        _ = try prune("intraslice", &model, ratio: 0.4)
        XCTAssertTrue(model.layers.allSatisfy { $0.attention.qkHeadDim == 6 }, "q/k norms span the head: no pair is dropped")
        XCTAssertNoThrow(try model.hiddenStates(tokens: [1, 2, 3, 4]))
    }

    /// IntraSlice's recorded module errors equal ‖y − ref‖² / ‖ref − x‖² from forward passes
    /// of the pruned and unpruned modules on layer 0 (whose input pruning does not change),
    /// both when they come from the Gram sums (480 calibration rows, over 6× the Wo and
    /// Wdown input widths of 24 and 40) and when the unpruned module runs again (36 rows).
    func testIntraSliceErrorsFromGramSumsAndFromRowsMatchForwardPasses() throws {
        let original = TinyModels.model("llama")
        XCTAssertTrue(IntraSlice.errorFromGramSums(width: 40, rows: 480, linear: true))
        XCTAssertFalse(IntraSlice.errorFromGramSums(width: 24, rows: 36, linear: true))
        for windows in [40, 3] {
            var rng = SeededGenerator(seed: 5)
            let set = CalibrationSet(windows: (0..<windows).map { _ in (0..<12).map { _ in Int32.random(in: 0..<50, using: &rng) } },
                                     corpus: "random ids")
            var pruned = original
            let statistics = try IntraSlice(options: MethodOptions()).prune(
                &pruned, context: PruningContext(ratio: try PruningRatio(0.3, kind: .slicing), calibration: set))
            func error(_ y: Matrix<Float>, _ reference: Matrix<Float>, _ base: Matrix<Float>) -> Double {
                let e = (y - reference).frobeniusNorm, s = (reference - base).frobeniusNorm
                return e * e / (s * s)
            }
            let states = try original.embeddings(Array(set.windows.joined()))
            let middle = try pruned.attentionHalf(0, states: states, batch: windows)
            let attention = error(middle, try original.attentionHalf(0, states: states, batch: windows), states)
            var unprunedMLP = pruned
            unprunedMLP.layers[0].mlp = original.layers[0].mlp
            let mlp = error(try pruned.mlpHalf(0, states: middle), try unprunedMLP.mlpHalf(0, states: middle), middle)
            let recorded = [CaptureSite.outputProjectionInput, .downProjectionInput].map { statistics.value(layer: 0, site: $0, "relative_output_error")![0] }
            XCTAssertGreaterThan(attention, 1e-4, "something was pruned")
            XCTAssertEqual(recorded[0], attention, accuracy: 1e-3 * attention, "\(windows) windows")
            XCTAssertEqual(recorded[1], mlp, accuracy: 1e-3 * mlp, "\(windows) windows")
        }
    }
}
