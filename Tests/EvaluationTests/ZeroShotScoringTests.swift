import Datasets
import Evaluation
import Foundation
import ModelIO
import TestSupport
import Transformer
import XCTest

/// The continuation split, prefix sharing and the metrics, on SmolLM2 (real weights and
/// tokenizer) and on constructed cases.
final class ZeroShotScoringTests: XCTestCase {
    static var smollm: LoadedModel?

    func smolLM2() throws -> LoadedModel {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
        if let loaded = Self.smollm { return loaded }
        let loaded = try ModelLoader.load("smollm2-135m")
        Self.smollm = loaded
        return loaded
    }

    func testContextEndingInASpaceMovesTheSpaceToTheContinuation() throws {
        let tokenizer = try smolLM2().tokenizer
        let encoded = EncodedRequest(ContinuationRequest(context: "Question: is it?\nAnswer: ", continuation: "yes"), tokenizer: tokenizer)
        let context = tokenizer.encode("Question: is it?\nAnswer:", addSpecialTokens: false)
        let whole = tokenizer.encode("Question: is it?\nAnswer: yes", addSpecialTokens: false)
        XCTAssertEqual(encoded.tokens, context + whole.dropFirst(context.count))
        XCTAssertEqual(encoded.continuationStart, context.count)
        XCTAssertEqual(tokenizer.decodeString(Array(encoded.continuation)), " yes")
        // Without the move, "Answer: " + "yes" would tokenize the space alone at the context's end.
        XCTAssertNotEqual(tokenizer.encode("Question: is it?\nAnswer: ", addSpecialTokens: false), context)

        // Left truncation keeps the continuation and the newest context.
        let short = EncodedRequest(ContinuationRequest(context: "one two three four five six", continuation: " seven"), tokenizer: tokenizer, maxLength: 3)
        XCTAssertEqual(short.tokens.count, 4)
        XCTAssertEqual(tokenizer.decodeString(Array(short.continuation)), " seven")
    }

    func testSharedPrefixScoringEqualsNaiveScoring() throws {
        let loaded = try smolLM2()
        var documents: [[EncodedRequest]] = []
        for task in [ZeroShotTask.hellaswag, .arc_challenge, .winogrande, .boolq, .piqa] {
            documents += try task.load(limit: 6).map { $0.requests.map { EncodedRequest($0, tokenizer: loaded.tokenizer) } }
        }
        var shared = ContinuationScorer(model: loaded.model)
        shared.rowsPerCall = 700  // several calls, documents split across them
        var naive = shared
        naive.sharePrefix = false
        var sharedCounts = ContinuationScorer.Counts(), naiveCounts = ContinuationScorer.Counts()
        let a = try shared.score(documents, counts: &sharedCounts)
        let b = try naive.score(documents, counts: &naiveCounts)
        var worst = 0.0
        for (x, y) in zip(a.joined(), b.joined()) {
            worst = max(worst, abs(x.loglikelihood - y.loglikelihood))
            XCTAssertEqual(x.tokenCount, y.tokenCount)
        }
        XCTAssertLessThan(worst, 1e-4)
        XCTAssertLessThan(sharedCounts.rows, naiveCounts.rows * 2 / 3, "sharing the context must save rows")
        XCTAssertGreaterThan(sharedCounts.forwardCalls, 1)

        // And the plain forward pass of one full sequence gives the same loglikelihood.
        let request = documents[0][1]
        let hidden = try loaded.model.hiddenStates(tokens: Array(request.tokens.dropLast()))
        let nll = loaded.model.negativeLogLikelihoods(hidden: hidden, targets: Array(request.tokens.dropFirst()))
        XCTAssertEqual(-nll[(request.continuationStart - 1)...].reduce(0, +), a[0][1].loglikelihood, accuracy: 1e-4)
    }

    func testWinograndePartialScoringPicksTheRightOption() throws {
        let loaded = try smolLM2()
        let doc = try ZeroShotTask.winogrande.document(from: JSONValue.parse(Array(
            #"{"sentence": "The capital of France is _, the city of light on the Seine.", "option1": "London", "option2": "Paris", "answer": "2"}"#.utf8)), id: 0)
        let result = try ZeroShot.evaluate(.winogrande, documents: [doc], model: loaded.model, tokenizer: loaded.tokenizer,
                                           scorer: ContinuationScorer(model: loaded.model))
        XCTAssertEqual(result.predictions, [1])
        XCTAssertEqual(result.accuracy, 1)
        // Both options were scored on the same continuation.
        XCTAssertEqual(result.scores[0][0].tokenCount, result.scores[0][1].tokenCount)
    }

    func testAccNormDividesByCharactersNotBytes() throws {
        // "ééé" is 3 scalars but 6 UTF-8 bytes; "abcd" 4 and 4. With loglikelihoods −3 and
        // −3.6: per scalar −1.0 vs −0.9 picks "abcd"; per byte −0.5 vs −0.9 would pick "ééé".
        let doc = try ZeroShotTask.arc_easy.document(from: JSONValue.parse(Array(#"{"query": "Q", "choices": ["ééé", "abcd"], "gold": 1}"#.utf8)), id: 0)
        let scores = [[ContinuationScore(loglikelihood: -3, tokenCount: 2, isGreedy: false),
                       ContinuationScore(loglikelihood: -3.6, tokenCount: 2, isGreedy: false)]]
        let result = ZeroShotTaskResult(task: .arc_easy, documents: [doc], scores: scores, seconds: 1, counts: .init())
        XCTAssertEqual(result.predictions, [0])
        XCTAssertEqual(result.normalizedPredictions, [1])
        XCTAssertEqual(result.accuracy, 0)
        XCTAssertEqual(result.normalizedAccuracy, 1)
    }
}
