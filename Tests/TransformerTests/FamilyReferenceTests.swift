import Foundation
import LinAlg
import ModelIO
import TestSupport
@testable import Transformer
import XCTest

/// Every family's forward pass against HuggingFace transformers 5.23 (eager attention,
/// float32) on the tiny random checkpoints of `FamilyFixtures`. Tolerance: the largest
/// difference of any logit, relative to the largest reference logit,
/// max |harness − reference| / max |reference| ≤ 1e-4. Switching the family's special
/// feature off moves the reference logits by 0.2–1.2 on that scale (`reference.json`), so
/// agreement shows each feature is implemented, not merely too small to matter.
final class FamilyReferenceTests: XCTestCase {
    struct Reference: Decodable {
        let tokens: [Int32]
        let logits: [[Float]]
    }

    static func reference(_ name: String) throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: FamilyFixtures.folder(name).appendingPathComponent("reference.json")))
    }

    static func relativeDifference(_ model: TransformerModel, _ reference: Reference) throws -> Float {
        let logits = model.logits(try model.hiddenStates(tokens: reference.tokens), rows: 0..<reference.tokens.count)
        let expected = reference.logits.flatMap { $0 }
        XCTAssertEqual(logits.elements.count, expected.count)
        let largest = expected.map(abs).max() ?? 0
        return zip(logits.elements, expected).map { abs($0 - $1) }.max()! / largest
    }

    func assertMatchesTransformers(_ name: String, _ family: ArchitectureFamily, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try HFCheckpointLoader.load(folder: FamilyFixtures.folder(name).path)
        XCTAssertEqual(model.architecture, family, file: file, line: line)
        let difference = try Self.relativeDifference(model, try Self.reference(name))
        XCTAssertLessThanOrEqual(difference, 1e-4, "\(name): max |Δ| / max |reference|", file: file, line: line)
    }

    func testLlama3WithLlama3RopeScalingMatchesTransformers() throws {
        try assertMatchesTransformers("llama3", .llama)
    }

    func testMistralWithASlidingWindowShorterThanTheSequenceMatchesTransformers() throws {
        try assertMatchesTransformers("mistral", .mistral)
        let model = try HFCheckpointLoader.load(folder: FamilyFixtures.folder("mistral").path)
        XCTAssertEqual(model.layers.map(\.attention.slidingWindow), [8, 8], "the window applies to every layer")
    }

    func testQwen2WithBiasesAndALaterSlidingLayerMatchesTransformers() throws {
        try assertMatchesTransformers("qwen2", .qwen2)
        let model = try HFCheckpointLoader.load(folder: FamilyFixtures.folder("qwen2").path)
        XCTAssertNotNil(model.layers[0].attention.bqkv)
        XCTAssertEqual(model.layers.map(\.attention.slidingWindow), [nil, 8], "from max_window_layers = 1 on")
    }

    func testPhi3WithFusedProjectionsLongRoPEAndASlidingWindowMatchesTransformers() throws {
        try assertMatchesTransformers("phi3", .phi3)
    }

    func testGemma3WithLocalAndGlobalLayersMatchesTransformers() throws {
        try assertMatchesTransformers("gemma3", .gemma3)
        let model = try HFCheckpointLoader.load(folder: FamilyFixtures.folder("gemma3").path)
        XCTAssertEqual(model.layers.map(\.attention.slidingWindow), [8, 8, nil])
    }

    /// transformers 5 writes `rope_parameters` (per layer type for Gemma 3) where the
    /// published checkpoints have `rope_theta`/`rope_scaling`: both describe the same model.
    func testTransformers5ConfigsGiveTheSameLogits() throws {
        for name in FamilyFixtures.names {
            let folder = try makeTemporaryFolder("transformers5-\(name)")
            defer { try? FileManager.default.removeItem(at: folder) }
            let fixture = FamilyFixtures.folder(name)
            try FileManager.default.copyItem(at: fixture.appendingPathComponent("model.safetensors"),
                                             to: folder.appendingPathComponent("model.safetensors"))
            try FileManager.default.copyItem(at: fixture.appendingPathComponent("transformers5-config.json"),
                                             to: folder.appendingPathComponent("config.json"))
            let model = try HFCheckpointLoader.load(folder: folder.path)
            XCTAssertLessThanOrEqual(try Self.relativeDifference(model, try Self.reference(name)), 1e-4, name)
        }
    }

    /// The writer stores every family under the same names the loader reads (Phi-3 fused,
    /// Gemma's norms with their offset recorded), so what it writes reloads bit-identically.
    func testEveryFamilyWrittenByTheHarnessReloadsBitIdentical() throws {
        for name in FamilyFixtures.names {
            let model = try HFCheckpointLoader.load(folder: FamilyFixtures.folder(name).path)
            let folder = try makeTemporaryFolder("family-writer-\(name)")
            defer { try? FileManager.default.removeItem(at: folder) }
            try HFCheckpointWriter.write(model, to: folder.path)
            let back = try HFCheckpointLoader.load(folder: folder.path)
            let tokens = try Self.reference(name).tokens
            XCTAssertEqual(try back.hiddenStates(tokens: tokens).elements, try model.hiddenStates(tokens: tokens).elements, name)
            XCTAssertEqual(back.architecture, model.architecture, name)
        }
    }

    /// Past `original_max_position_embeddings` transformers switches every position to
    /// LongRoPE's long factors; the harness implements the short ones and refuses longer
    /// sequences rather than compute another model.
    func testLongRoPESequencesPastTheOriginalLengthAreRefused() throws {
        let model = try HFCheckpointLoader.load(folder: FamilyFixtures.folder("phi3").path)
        XCTAssertEqual(model.contextLength, 64, "original_max_position_embeddings, below max_position_embeddings 512")
        XCTAssertNoThrow(try model.checkContext(64, "the window"))
        XCTAssertThrowsError(try model.checkContext(65, "the window")) {
            XCTAssertEqual("\($0)", "the window is 65 tokens, longer than the model's context length of 64")
        }
    }

    func testEachModelTypeNamesOneFamily() {
        for family in ArchitectureFamily.all {
            for modelType in family.modelTypes { XCTAssertEqual(ArchitectureFamily(modelType: modelType), family, modelType) }
            if let gguf = family.gguf { XCTAssertEqual(ArchitectureFamily(modelType: gguf.architecture), family, gguf.architecture) }
        }
        XCTAssertNil(ArchitectureFamily(modelType: "mamba"))
        XCTAssertEqual(ArchitectureFamily(ggufArchitecture: "llama"), .llama)
        XCTAssertNil(ArchitectureFamily(ggufArchitecture: "phi3"), "Phi-3 is read from HuggingFace folders only")
    }
}
