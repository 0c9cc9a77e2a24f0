import Datasets
import Evaluation
import Foundation
import ModelIO
import TestSupport
import Transformer
import XCTest

/// Zero-shot scoring of SmolLM2 against HuggingFace transformers on the same dequantized
/// weights (Baselines/zeroshot: reference_zeroshot.py, naive scoring of every choice, and
/// its JSON). The suite checks the first documents of each of the 7 tasks: the same
/// continuation ids, loglikelihoods within 5e-3 and the same predictions. The full
/// 200-document comparison is in Baselines/zeroshot/README.md.
final class ReferenceZeroShotTests: XCTestCase {
    struct Reference: Decodable {
        struct Task: Decodable {
            struct Document: Decodable {
                let doc_id: Int
                let loglikelihoods: [Double]
                let token_counts: [Int]
                let continuation_ids: [[Int32]]
                let pred_acc: Int
                let pred_acc_norm: Int?
            }
            let per_doc: [Document]
        }
        let results: [String: Task]
    }

    func testSmolLM2MatchesTransformers() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
        let url = repositoryRoot.appendingPathComponent("Baselines/zeroshot/smollm2-135m.limit200.json")
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        let loaded = try ModelLoader.load("smollm2-135m")
        let scorer = ContinuationScorer(model: loaded.model)
        let documentsPerTask = 25
        for task in ZeroShotTask.intraSliceAverage {
            let expected = try XCTUnwrap(reference.results[task.rawValue], task.rawValue).per_doc.prefix(documentsPerTask)
            let documents = try task.load(limit: documentsPerTask)
            XCTAssertEqual(documents.map(\.id), expected.map(\.doc_id), task.rawValue)
            let result = try ZeroShot.evaluate(task, documents: documents, model: loaded.model, tokenizer: loaded.tokenizer, scorer: scorer)
            var worst = 0.0
            for (d, (document, reference)) in zip(documents, expected).enumerated() {
                let encoded = document.requests.map { EncodedRequest($0, tokenizer: loaded.tokenizer) }
                XCTAssertEqual(encoded.map { Array($0.continuation) }, reference.continuation_ids, "\(task.rawValue) doc \(document.id)")
                for (ours, theirs) in zip(result.scores[d], reference.loglikelihoods) { worst = max(worst, abs(ours.loglikelihood - theirs)) }
                XCTAssertEqual(result.predictions[d], reference.pred_acc, "\(task.rawValue) doc \(document.id)")
                if let norm = reference.pred_acc_norm, task != .winogrande {
                    XCTAssertEqual(result.normalizedPredictions[d], norm, "\(task.rawValue) doc \(document.id)")
                }
            }
            XCTAssertLessThan(worst, 5e-3, task.rawValue)
        }
    }
}
