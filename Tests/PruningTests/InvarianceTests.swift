import Datasets
import Foundation
import LinAlg
import ModelIO
@testable import Pruning
import TestSupport
import Transformer
import XCTest

/// The transformations that should not change the function do not, on the real SmolLM2:
/// norm fusion exactly (1e-5), SliceGPT at slicing 0 and IntraSlice at ratio 0 up to the
/// float rounding of rotations and the ridge damping (1e-3 relative on the logits).
final class InvarianceTests: XCTestCase {
    static func smolLM2() throws -> LoadedModel {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
        return try ModelLoader.load("smollm2-135m")
    }

    /// 4 sequential windows of 128 tokens of the `wiki` calibration text.
    static func calibration(_ loaded: LoadedModel, samples: Int = 4, seqlen: Int = 128) throws -> CalibrationSet {
        try CalibrationSet(CalibrationSettings(source: "wiki", samples: samples, seqlen: seqlen, sampling: .sequential), tokenizer: loaded.tokenizer)
    }

    /// Two 64-token windows of WikiText-2 (not the calibration text).
    static func evaluationTokens(_ loaded: LoadedModel) throws -> [Int32] {
        let corpus = try TextCorpus.load("wikitext2")
        return Array(loaded.tokenizer.encode(corpus.bytes, addSpecialTokens: true)[1000..<1128])
    }

    static func logits(_ model: TransformerModel, _ tokens: [Int32]) throws -> Matrix<Float> {
        model.logits(try model.hiddenStates(tokens: tokens, batch: 2), rows: 0..<tokens.count)
    }

    static func relativeDifference(_ a: Matrix<Float>, _ b: Matrix<Float>) -> Double { (a - b).frobeniusNorm / b.frobeniusNorm }

    func testNormFusionIsExact() throws {
        let loaded = try Self.smolLM2()
        let tokens = try Self.evaluationTokens(loaded)
        var fused = loaded.model
        try ArchitectureAdapter(fused).fuseNorms(&fused)
        XCTAssertTrue(fused.layers.allSatisfy { $0.attentionNorm.allSatisfy { $0 == 1 } && $0.mlpNorm.allSatisfy { $0 == 1 } })
        XCTAssertNotNil(fused.lmHead, "the tied head is untied before it absorbs the final norm")
        let difference = Self.relativeDifference(try Self.logits(fused, tokens), try Self.logits(loaded.model, tokens))
        XCTAssertLessThan(difference, 1e-5)
    }

    func testSliceGPTAtSlicingZeroReproducesTheDenseModel() throws {
        let loaded = try Self.smolLM2()
        let tokens = try Self.evaluationTokens(loaded)
        var model = loaded.model
        let statistics = try SliceGPT(options: MethodOptions()).prune(
            &model, context: PruningContext(ratio: try PruningRatio(0, kind: .slicing), calibration: try Self.calibration(loaded)))
        XCTAssertEqual(model.embeddingWidth, 576)
        XCTAssertTrue(model.layers.allSatisfy { $0.attentionShortcut?.rows == 576 && $0.mlpShortcut?.rows == 576 }, "shortcuts included")
        XCTAssertEqual(statistics.value(layer: 3, site: .residualOut, "eigenvalues")?.count, 576)
        let difference = Self.relativeDifference(try Self.logits(model, tokens), try Self.logits(loaded.model, tokens))
        print("SliceGPT at slicing 0: relative logit difference \(difference)")
        XCTAssertLessThan(difference, 1e-3)
    }

    func testIntraSliceAtRatioZeroReproducesTheDenseModel() throws {
        let loaded = try Self.smolLM2()
        let tokens = try Self.evaluationTokens(loaded)
        var model = loaded.model
        _ = try IntraSlice(options: MethodOptions()).prune(
            &model, context: PruningContext(ratio: try PruningRatio(0, kind: .slicing), calibration: try Self.calibration(loaded)))
        XCTAssertEqual(model.parameterCounts, loaded.model.parameterCounts, "ratio 0 keeps every head, pair and channel")
        let difference = Self.relativeDifference(try Self.logits(model, tokens), try Self.logits(loaded.model, tokens))
        print("IntraSlice at ratio 0: relative logit difference \(difference)")
        XCTAssertLessThan(difference, 1e-3)
    }
}
