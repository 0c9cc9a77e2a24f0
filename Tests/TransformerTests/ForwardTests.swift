import Foundation
import LinAlg
@testable import Transformer
import TestSupport
import XCTest

final class ForwardTests: XCTestCase {
    let variants = ["llama", "qwen2", "gemma3", "pruned"]
    let tokens: [Int32] = [3, 17, 42, 0, 8, 8, 29, 49, 11, 5]

    func maxRelativeError(_ actual: Matrix<Float>, _ expected: [[Double]]) -> Double {
        var worst = 0.0
        let scale = expected.flatMap { $0 }.map(abs).max()!
        for r in expected.indices { for c in expected[r].indices { worst = max(worst, abs(Double(actual[r, c]) - expected[r][c]) / scale) } }
        return worst
    }

    func testPrefillMatchesTheScalarReference() throws {
        for variant in variants {
            let model = TinyModels.model(variant)
            var reference = ScalarReference(model)
            let expected = reference.logits(tokens)
            let hidden = try model.hiddenStates(tokens: tokens)
            let logits = model.logits(hidden, rows: 0..<tokens.count)
            // Float32 against Double: tolerance 1e-5 of the largest logit.
            XCTAssertLessThan(maxRelativeError(logits, expected), 1e-5, variant)
        }
    }

    func testBatchedSequencesEqualSingleOnes() throws {
        for variant in variants {
            let model = TinyModels.model(variant)
            let other: [Int32] = tokens.reversed()
            let both = try model.hiddenStates(tokens: tokens + other, batch: 2)
            let first = try model.hiddenStates(tokens: tokens), second = try model.hiddenStates(tokens: other)
            XCTAssertLessThan((both - Matrix(rows: 20, cols: 24, elements: first.elements + second.elements)).frobeniusNorm, 1e-5, variant)
        }
    }

    func testKVCacheDecodeEqualsPrefillLogits() throws {
        for variant in variants {
            let model = TinyModels.model(variant)
            let full = model.logits(try model.hiddenStates(tokens: tokens), rows: 0..<tokens.count)
            let cache = KVCache(model: model, batch: 1, capacity: 16)
            // A 4-token prefill, one 3-token chunk, then single-token decode steps.
            var rows: [Float] = []
            for chunk in [tokens[0..<4], tokens[4..<7], tokens[7..<8], tokens[8..<9], tokens[9..<10]] {
                let hidden = try model.hiddenStates(tokens: Array(chunk), cache: cache)
                rows += model.logits(hidden, rows: 0..<chunk.count).elements
            }
            XCTAssertEqual(cache.length, tokens.count)
            let decoded = Matrix(rows: tokens.count, cols: model.vocabularySize, elements: rows)
            XCTAssertLessThan((decoded - full).frobeniusNorm / full.frobeniusNorm, 1e-5, variant)
        }
    }

    func testCacheOverflowIsAnError() throws {
        let model = TinyModels.model("llama")
        let cache = KVCache(model: model, batch: 1, capacity: 4)
        XCTAssertThrowsError(try model.hiddenStates(tokens: tokens, cache: cache)) { error in
            XCTAssertTrue(String(describing: error).contains("cannot take 10 more"), "\(error)")
        }
    }

    func testNegativeLogLikelihoodsAreLogSoftmax() throws {
        let model = TinyModels.model("qwen2")
        let hidden = try model.hiddenStates(tokens: tokens)
        let targets = Array(tokens.dropFirst()) + [-1]
        let nll = model.negativeLogLikelihoods(hidden: hidden, targets: targets, blockRows: 3)
        let logits = model.logits(hidden, rows: 0..<tokens.count)
        for r in 0..<(tokens.count - 1) {
            let row = (0..<model.vocabularySize).map { Double(logits[r, $0]) }
            let m = row.max()!
            let expected = m + log(row.reduce(0) { $0 + exp($1 - m) }) - row[Int(targets[r])]
            XCTAssertEqual(nll[r], expected, accuracy: 1e-5)
        }
        XCTAssertEqual(nll.last, 0)
    }

    /// Records what the capture sites hand out.
    final class Recorder: ActivationObserver {
        var seen: [String: (rows: Int, width: Int, values: [Float])] = [:]
        func wants(layer: Int, site: CaptureSite) -> Bool { layer != 2 }
        func observe(layer: Int, site: CaptureSite, activations: UnsafeBufferPointer<Float>, rows: Int, width: Int) throws {
            seen["\(layer).\(site.rawValue)"] = (rows, width, Array(activations))
        }
    }

    func testCaptureSitesSeeEveryLayerAndTheRightValues() throws {
        let model = TinyModels.model("pruned")
        let recorder = Recorder()
        _ = try model.hiddenStates(tokens: tokens, observer: recorder)
        XCTAssertEqual(recorder.seen.count, 2 * CaptureSite.allCases.count, "layer 2 was not wanted")
        XCTAssertEqual(recorder.seen["1.wo_input"]?.width, 15, "3 heads of value size 5")
        XCTAssertEqual(recorder.seen["1.wdown_input"]?.width, 32)
        XCTAssertEqual(try XCTUnwrap(recorder.seen["0.residual_out"]).values, try XCTUnwrap(recorder.seen["1.residual_in"]).values,
                       "the stream leaving layer 0 is the stream entering layer 1")
        var reference = ScalarReference(model)
        _ = reference.logits(tokens)
        let captured = try XCTUnwrap(recorder.seen["1.wo_input"])
        for t in tokens.indices { for j in 0..<15 {
            XCTAssertEqual(Double(captured.values[t * 15 + j]), reference.outputProjectionInputs[1][t][j], accuracy: 1e-4)
        } }
    }

    func testNonFiniteActivationsAreReported() throws {
        var model = TinyModels.model("llama")
        model.layers[1].mlp.wDown.elements[0] = .nan
        XCTAssertThrowsError(try model.hiddenStates(tokens: tokens)) { error in
            XCTAssertTrue(String(describing: error).contains("layer 1 produced NaN or Inf"), "\(error)")
        }
    }

    func testOutOfVocabularyTokenIsAnError() {
        let model = TinyModels.model("llama")
        XCTAssertThrowsError(try model.hiddenStates(tokens: [1, 50])) { error in
            XCTAssertTrue(String(describing: error).contains("token id 50 is outside the vocabulary of 50"), "\(error)")
        }
    }

    func testLlama3RopeScalingKeepsShortWavelengthsAndSlowsLongOnes() {
        let plain = RoPE.inverseFrequencies(headDim: 64, base: 500_000, scaling: nil)
        let scaled = RoPE.inverseFrequencies(headDim: 64, base: 500_000, scaling: RopeScaling(
            ropeType: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192))
        XCTAssertEqual(scaled[0], plain[0])  // wavelength 2π < 2048: kept
        XCTAssertEqual(scaled[31], plain[31] / 8, accuracy: plain[31] * 1e-6)  // longest wavelength: divided by 8
        XCTAssertEqual(plain[1], Float(pow(500_000.0, -2.0 / 64)), accuracy: 1e-9)
    }
}
