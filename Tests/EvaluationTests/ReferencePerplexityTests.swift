import Datasets
import Evaluation
import Foundation
import ModelIO
import TestSupport
import Transformer
import XCTest

/// Perplexity of the real checkpoints on WikiText-2 against HuggingFace transformers on
/// the same dequantized weights (Baselines/ppl: reference_ppl.py and its JSON output).
/// Windows are compared one by one; the tests evaluate the first few windows of the
/// reference run to keep the suite quick (the full runs are in Results/).
final class ReferencePerplexityTests: XCTestCase {
    struct Reference: Decodable {
        let L: Int
        let ids_total: Int
        let ids_sha256: String
        let per_window_mean_nll: [Double]
    }

    func check(_ id: String, windows: Int) throws {
        guard AssetRegistry.asset(named: id, kind: .model)?.isPresent == true,
              AssetRegistry.asset(named: "wikitext2", kind: .text)?.isPresent == true else {
            throw XCTSkip("\(id) or WikiText-2 not cached; run Scripts/fetch-assets.sh --all-models")
        }
        let url = repositoryRoot.appendingPathComponent("Baselines/ppl/\(id).L512.N64.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("no reference \(url.path)") }
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        let loaded = try ModelLoader.load(id)
        let ids = loaded.tokenizer.encode(try TextCorpus.load("wikitext2").bytes, addSpecialTokens: true)
        XCTAssertEqual(ids.count, reference.ids_total, "\(id): token count")
        let result = try Perplexity.evaluate(model: loaded.model, ids: ids, seqlen: reference.L, windows: windows)
        for w in 0..<windows {
            let mean = result.windowNLLSums[w] / Double(reference.L - 1)
            // Same weights, both Float32: per-window mean NLL to 1e-4 nats (ppl to 0.01 %).
            XCTAssertEqual(mean, reference.per_window_mean_nll[w], accuracy: 1e-4, "\(id) window \(w)")
        }
    }

    func testSmolLM2() throws { try check("smollm2-135m", windows: 8) }
    func testGemma3() throws { try check("gemma3-270m", windows: 2) }
    func testQwen2() throws { try check("qwen2.5-0.5b", windows: 2) }
}
