import Foundation
import LinAlg
import ModelIO
import TestSupport
@testable import Transformer
import XCTest

/// Models written by `HFCheckpointWriter` reload with bit-identical logits, including
/// per-layer head counts, head sizes, KV maps, RoPE frequencies and SliceGPT shortcuts.
final class CheckpointWriterTests: XCTestCase {
    let tokens: [Int32] = [4, 9, 33, 2, 17, 40, 40, 1, 0, 12]

    func reloaded(_ model: TransformerModel, _ name: String) throws -> TransformerModel {
        let folder = try makeTemporaryFolder("writer-\(name)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try HFCheckpointWriter.write(model, to: folder.path)
        return try HFCheckpointLoader.load(folder: folder.path)
    }

    func assertBitIdentical(_ model: TransformerModel, _ name: String) throws {
        let back = try reloaded(model, name)
        let expected = try model.hiddenStates(tokens: tokens), actual = try back.hiddenStates(tokens: tokens)
        XCTAssertEqual(actual.elements, expected.elements, name)
        XCTAssertEqual(back.parameterCounts, model.parameterCounts, name)
        XCTAssertEqual(back.layers.map(\.attention.kvHeadOfQueryHead), model.layers.map(\.attention.kvHeadOfQueryHead), name)
    }

    func testDensePrunedAndBiasedModelsReloadBitIdentical() throws {
        try assertBitIdentical(TinyModels.model("llama"), "llama")
        try assertBitIdentical(TinyModels.model("qwen2"), "qwen2")
        try assertBitIdentical(TinyModels.model("pruned"), "pruned")
    }

    /// KV groups that kept different rotary pairs rotate with different frequency lists.
    func testPerGroupRopeFrequenciesReloadAndDifferFromShared() throws {
        var model = TinyModels.model("llama")
        let a = model.layers[0].attention
        let full = a.ropeInverseFrequencies
        model.layers[0].attention = Attention(
            numHeads: a.numHeads, numKVHeads: a.numKVHeads, kvHeadOfQueryHead: a.kvHeadOfQueryHead, qkHeadDim: a.qkHeadDim,
            vHeadDim: a.vHeadDim, ropeInverseFrequencies: full + [full[2], full[0], full[1]], scale: a.scale,
            wq: a.wqkv.selectingRows(Array(0..<a.queryWidth)),
            wk: a.wqkv.selectingRows(Array(a.queryWidth..<(a.queryWidth + a.keyWidth))),
            wv: a.wqkv.selectingRows(Array((a.queryWidth + a.keyWidth)..<a.fusedWidth)), wo: a.wo)
        XCTAssertNotNil(model.layers[0].attention.ropeSegments)
        try assertBitIdentical(model, "per-group RoPE")
        let shared = TinyModels.model("llama")
        XCTAssertNotEqual(try model.hiddenStates(tokens: tokens).elements, try shared.hiddenStates(tokens: tokens).elements,
                          "the second KV group's permuted frequencies must change its heads")
    }

    /// A residual stream that narrows through shortcut matrices and widens again at the end,
    /// normalised with the original width as divisor.
    func testShortcutModelRunsAndReloadsAndWidthMismatchIsNamed() throws {
        var model = TinyModels.model("llama")
        var rng = SeededGenerator(seed: 7)
        let wide = 24, narrow = 16
        func random(_ r: Int, _ c: Int) -> Matrix<Float> {
            var m = Matrix<Float>.random(rows: r, cols: c, using: &rng)
            for i in m.elements.indices { m.elements[i] *= 0.3 }
            return m
        }
        model.embedding = model.embedding.selectingColumns(Array(0..<narrow))
        for i in model.layers.indices {
            let last = i == model.layers.count - 1
            model.layers[i].attention.wqkv = model.layers[i].attention.wqkv.selectingColumns(Array(0..<narrow))
            model.layers[i].attentionNorm = Array(model.layers[i].attentionNorm.prefix(narrow))
            model.layers[i].attention.wo = model.layers[i].attention.wo.selectingRows(Array(0..<narrow))
            model.layers[i].attentionShortcut = random(narrow, narrow)
            model.layers[i].mlpNorm = Array(model.layers[i].mlpNorm.prefix(narrow))
            model.layers[i].mlp.wGateUp = model.layers[i].mlp.wGateUp.selectingColumns(Array(0..<narrow))
            model.layers[i].mlp.wDown = model.layers[i].mlp.wDown.selectingRows(Array(0..<(last ? wide : narrow)))
            model.layers[i].mlpShortcut = random(last ? wide : narrow, narrow)
        }
        model.lmHead = random(model.vocabularySize, wide)
        model.residualNormDivisor = wide
        XCTAssertEqual(model.parameterCounts.shortcuts, 5 * narrow * narrow + wide * narrow)
        try assertBitIdentical(model, "shortcuts")

        let folder = try makeTemporaryFolder("writer-mismatch")
        defer { try? FileManager.default.removeItem(at: folder) }
        model.layers[1].mlpShortcut = random(narrow, narrow - 8)
        try HFCheckpointWriter.write(model, to: folder.path)
        XCTAssertThrowsError(try HFCheckpointLoader.load(folder: folder.path)) { error in
            XCTAssertTrue("\(error)".contains("layer 1: the MLP shortcut is 16 × 8, the config implies 16 × 16"), "\(error)")
        }
    }
}
