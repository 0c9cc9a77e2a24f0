import Evaluation
import Foundation
import LinAlg
import TestSupport
import Transformer
import XCTest

/// Numbers that would be meaningless are errors, not results: a perplexity from overflowing
/// logits, or from windows longer than the model's context.
final class UntrustworthyNumbersTests: XCTestCase {
    let ids: [Int32] = (0..<40).map { Int32($0 % 50) }

    func testOverflowingLogitsGiveAnErrorNotPerplexityNaN() throws {
        var model = TinyModels.model("qwen2")
        // Finite weights whose products overflow Float: every term of a logit is ±inf.
        model.finalNorm = model.finalNorm.map { _ in 1e20 }
        for i in model.lmHead!.elements.indices { model.lmHead!.elements[i] = 1e20 }
        XCTAssertThrowsError(try Perplexity.evaluate(model: model, ids: ids, seqlen: 8)) {
            XCTAssertTrue("\($0)".hasPrefix("window 0: the negative log-likelihood is"), "\($0)")
            XCTAssertTrue("\($0)".contains("no perplexity"), "\($0)")
        }
    }

    func testWindowsLongerThanTheContextLengthAreRefused() throws {
        var model = TinyModels.model("llama")
        model.config.maxPositionEmbeddings = 8
        XCTAssertNoThrow(try Perplexity.evaluate(model: model, ids: ids, seqlen: 8))
        XCTAssertThrowsError(try Perplexity.evaluate(model: model, ids: ids, seqlen: 9)) {
            XCTAssertEqual("\($0)", "the window length is 9 tokens, longer than the model's context length of 8")
        }
        XCTAssertThrowsError(try LatencyBenchmark.prefill(model, batch: 1, seqlen: 16, warmup: 0, repeats: 1)) {
            XCTAssertEqual("\($0)", "the prefill length is 16 tokens, longer than the model's context length of 8")
        }
    }
}
