import Datasets
import Evaluation
import Foundation
import ModelIO
@testable import Pruning
import TestSupport
import Transformer
import XCTest

/// SliceGPT against microsoft/TransformerCompression run on the same weights and windows
/// (Baselines/slicegpt): WikiText-2 perplexity within 3 % at slicing 0.25, calibration the
/// first 32 windows of 512 tokens of `wiki`, evaluation L = 512, first 64 windows. The
/// committed comparison covers 0.10, 0.20, 0.25 and 0.30.
final class ReferenceSliceGPTTests: XCTestCase {
    func testPerplexityAtSlicingQuarterMatchesTheReference() throws {
        let loaded = try InvarianceTests.smolLM2()
        let url = repositoryRoot.appendingPathComponent("Baselines/slicegpt/reference.smollm2-135m.json")
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let entry = try XCTUnwrap((reference["sliced"] as? [[String: Any]])?.first { $0["sparsity"] as? Double == 0.25 })

        var model = loaded.model
        let calibration = try InvarianceTests.calibration(loaded, samples: 32, seqlen: 512)
        _ = try SliceGPT(options: MethodOptions()).prune(
            &model, context: PruningContext(ratio: try PruningRatio(0.25, kind: .slicing), calibration: calibration))
        XCTAssertEqual(model.embeddingWidth, entry["width"] as? Int)
        let ids = loaded.tokenizer.encode(try TextCorpus.load("wikitext2").bytes, addSpecialTokens: true)
        let result = try Perplexity.evaluate(model: model, ids: ids, seqlen: 512, windows: 64, batch: 4)
        let expected = try XCTUnwrap(entry["ppl"] as? Double)
        print("SliceGPT 0.25: harness \(result.perplexity), reference \(expected)")
        XCTAssertEqual(result.perplexity / expected, 1, accuracy: 0.03)
    }
}
