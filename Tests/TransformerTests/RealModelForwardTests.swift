import Foundation
import LinAlg
import ModelIO
import TestSupport
import Transformer
import XCTest

/// The forward pass on the real checkpoints against HuggingFace transformers run on the
/// same dequantized weights (Baselines/forward: reference_logits.py and its JSON output).
final class RealModelForwardTests: XCTestCase {
    struct Reference: Decodable {
        struct Position: Decodable {
            let top10_ids: [Int]
            let top10_logits: [Double]
            let logsumexp: Double
            let argmax: Int
        }
        let input_ids: [Int32]
        let positions: [String: Position]
        let mean_nll_1_to_31: Double
    }

    func check(_ id: String, file: StaticString = #filePath, line: UInt = #line) throws {
        guard let asset = AssetRegistry.asset(named: id, kind: .model), asset.isPresent else {
            throw XCTSkip("\(id) is not cached; run Scripts/fetch-assets.sh --all-models")
        }
        let url = repositoryRoot.appendingPathComponent("Baselines/forward/\(id).logits.json")
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        let model = try GGUFLoader.load(GGUFFile(path: asset.url.path))
        let ids = reference.input_ids
        let hidden = try model.hiddenStates(tokens: ids)
        let logits = model.logits(hidden, rows: 0..<ids.count)

        for (key, expected) in reference.positions {
            let position = Int(key)!
            let row = (0..<model.vocabularySize).map { Double(logits[position, $0]) }
            let argmax = row.indices.max { row[$0] < row[$1] }!
            XCTAssertEqual(argmax, expected.argmax, "\(id) position \(position)", file: file, line: line)
            // Float32 in both, different summation orders: agreement to 2e-3 of a logit.
            for (token, value) in zip(expected.top10_ids, expected.top10_logits) {
                XCTAssertEqual(row[token], value, accuracy: 2e-3, "\(id) position \(position) token \(token)", file: file, line: line)
            }
            let m = row.max()!
            let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
            XCTAssertEqual(lse, expected.logsumexp, accuracy: 2e-3, "\(id) position \(position)", file: file, line: line)
        }
        let targets = Array(ids.dropFirst()) + [-1]
        let nll = model.negativeLogLikelihoods(hidden: hidden, targets: targets)
        let mean = nll.dropLast().reduce(0, +) / Double(ids.count - 1)
        XCTAssertEqual(mean, reference.mean_nll_1_to_31, accuracy: 1e-4, "\(id) mean NLL", file: file, line: line)
    }

    func testSmolLM2MatchesTransformers() throws { try check("smollm2-135m") }
    func testGemma3MatchesTransformers() throws { try check("gemma3-270m") }
    func testQwen2MatchesTransformers() throws { try check("qwen2.5-0.5b") }
}
