import Foundation
import Pruning
import TestSupport
import Transformer
import XCTest

/// What a method may do to a model follows from the model's structure, not from its
/// family's name: post-module norms forbid rotating the stream, q/k norms forbid dropping
/// rotary pairs.
final class StructuralFactsTests: XCTestCase {
    func load(_ name: String) throws -> TransformerModel {
        try HFCheckpointLoader.load(folder: FamilyFixtures.folder(name).path)
    }

    func testGemma3RefusesRotationAndPairDroppingTheOthersAllowBoth() throws {
        let gemma = ArchitectureAdapter(try load("gemma3"))
        XCTAssertTrue(gemma.rotationObstacle?.contains("post-attention/post-MLP RMSNorms") ?? false, "\(gemma.rotationObstacle ?? "nil")")
        XCTAssertTrue(gemma.queryKeyPairObstacle?.contains("q/k RMSNorm") ?? false, "\(gemma.queryKeyPairObstacle ?? "nil")")
        for name in ["llama3", "mistral", "qwen2", "phi3"] {
            let adapter = ArchitectureAdapter(try load(name))
            XCTAssertNil(adapter.rotationObstacle, name)
            XCTAssertNil(adapter.queryKeyPairObstacle, name)
        }
    }

    func testALlamaModelGivenGemmasNormsIsRefusedForWhatItHas() throws {
        var model = try load("llama3")
        model.layers[1].postMLPNorm = [Float](repeating: 1, count: model.layers[1].outputWidth)
        let adapter = ArchitectureAdapter(model)
        XCTAssertEqual(model.architecture, .llama)
        XCTAssertTrue(adapter.rotationObstacle?.hasPrefix("layer 1 of this llama model normalises its module outputs") ?? false,
                      "\(adapter.rotationObstacle ?? "nil")")
        XCTAssertNil(adapter.queryKeyPairObstacle)

        model.layers[0].attention.kNorm = [Float](repeating: 1, count: model.layers[0].attention.qkHeadDim)
        XCTAssertTrue(ArchitectureAdapter(model).queryKeyPairObstacle?.hasPrefix("layer 0 of this llama model") ?? false)
    }
}
