import Evaluation
import Foundation
import LinAlg
import Transformer
import TestSupport
import XCTest

final class PerplexityTests: XCTestCase {
    func testPerplexityFollowsTheProtocol() throws {
        let model = TinyModels.model("qwen2")
        var rng = SeededGenerator(seed: 5)
        let ids = (0..<23).map { _ in Int32.random(in: 0..<50, using: &rng) }
        // 23 ids at L = 5: four windows, the 3-token tail dropped.
        XCTAssertEqual(Perplexity.windowCount(tokenCount: ids.count, seqlen: 5), 4)
        let result = try Perplexity.evaluate(model: model, ids: ids, seqlen: 5)
        XCTAssertEqual(result.windows, 4)
        XCTAssertEqual(result.predictedTokens, 16)

        // The same number computed window by window from full logits.
        var total = 0.0
        for w in 0..<4 {
            let window = Array(ids[(w * 5)..<(w * 5 + 5)])
            let logits = model.logits(try model.hiddenStates(tokens: window), rows: 0..<5)
            for t in 0..<4 {
                let row = (0..<50).map { Double(logits[t, $0]) }
                let m = row.max()!
                total += m + log(row.reduce(0) { $0 + exp($1 - m) }) - row[Int(window[t + 1])]
            }
        }
        XCTAssertEqual(result.perplexity, exp(total / 16), accuracy: 1e-4 * result.perplexity)

        // Batching windows changes nothing; asking for fewer windows takes the first ones.
        let batched = try Perplexity.evaluate(model: model, ids: ids, seqlen: 5, batch: 3)
        XCTAssertEqual(batched.perplexity, result.perplexity, accuracy: 1e-5 * result.perplexity)
        let first = try Perplexity.evaluate(model: model, ids: ids, seqlen: 5, windows: 2)
        XCTAssertEqual(first.windowNLLSums, Array(result.windowNLLSums.prefix(2)))
    }

    func testTooFewTokensIsAnError() {
        let model = TinyModels.model("llama")
        XCTAssertThrowsError(try Perplexity.evaluate(model: model, ids: [1, 2, 3], seqlen: 5)) { error in
            XCTAssertTrue(String(describing: error).contains("3 tokens hold 0 windows of 5"), "\(error)")
        }
        XCTAssertThrowsError(try Perplexity.evaluate(model: model, ids: Array(repeating: 1, count: 10), seqlen: 5, windows: 3))
    }

    func testPrefillFLOPCountOfATinyModel() {
        let model = TinyModels.model("llama")
        // Per token: 2 × (3 layers × (QKV (24 + 12 + 12)·24 + Wo 24·24 + MLP 3·40·24) + head 50·24).
        let matmul = 2.0 * Double(3 * (48 * 24 + 24 * 24 + 3 * 40 * 24) + 50 * 24)
        // Attention: 4 heads × L(L+1)/2 pairs × 2·(6 + 6) per layer.
        let attention = 3.0 * 4 * (8.0 * 9 / 2) * 2 * 12
        XCTAssertEqual(ForwardCost.prefillFLOPs(model, batch: 2, seqlen: 8), 2 * (8 * matmul + attention))
    }
}
