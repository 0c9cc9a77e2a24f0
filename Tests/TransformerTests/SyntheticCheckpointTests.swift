import Foundation
import ModelIO
import TestSupport
@testable import Transformer
import XCTest

/// `SyntheticCheckpoint`: the real shapes' values, and checkpoints that load with the
/// harness loader and run. The write-and-load tests use each family's real config with
/// its widths scaled down (the real-width run is `SynthCommandTests` and
/// `Scripts/synth-check.sh`), with the SmolLM2 tokenizer.
final class SyntheticCheckpointTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
        folder = try makeTemporaryFolder()
    }
    override func tearDownWithError() throws { if let folder { try? FileManager.default.removeItem(at: folder) } }

    /// `name`'s real config with widths of a few dozen (heads and KV heads keep the
    /// real model's grouping where they can).
    func scaled(_ name: String) throws -> SyntheticShape {
        let real = try XCTUnwrap(SyntheticShape.named(name))
        var config = real.config
        config.hiddenSize = 64
        config.intermediateSize = 96
        config.numAttentionHeads = 4
        config.numKeyValueHeads = real.config.numKeyValueHeads == real.config.numAttentionHeads ? 4 : 2
        return SyntheticShape(name: name, reference: real.reference, config: config, fields: real.fields)
    }

    func write(_ shape: SyntheticShape, seed: UInt64 = 0, layers: Int = 2, shardBytes: Int = 4_000_000, to name: String) throws -> (String, SyntheticRecord) {
        let path = folder.appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let record = try SyntheticCheckpoint.write(SyntheticCheckpointOptions(shape: shape, dtype: .bf16, seed: seed, layers: layers,
                                                                              maxShardBytes: shardBytes), to: path)
        return (path, record)
    }

    /// The config.json each shape writes holds the real model's values.
    func testShapesCarryTheRealModelsValues() throws {
        let keys = ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "vocab_size",
                    "rope_theta", "rms_norm_eps", "max_position_embeddings"]
        let expected: [String: [Double]] = [
            "llama-2-7b": [4096, 11008, 32, 32, 32, 32000, 10000, 1e-5, 4096],
            "llama-2-13b": [5120, 13824, 40, 40, 40, 32000, 10000, 1e-5, 4096],
            "llama-3-8b": [4096, 14336, 32, 32, 8, 128256, 500000, 1e-5, 8192],
            "qwen2.5-7b": [3584, 18944, 28, 28, 4, 152064, 1_000_000, 1e-6, 131072],
            "phi-3-mini": [3072, 8192, 32, 32, 32, 32064, 10000, 1e-5, 4096],
        ]
        XCTAssertEqual(Set(SyntheticShape.all.map(\.name)), Set(expected.keys))
        for shape in SyntheticShape.all {
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(HFConfigFile(config: shape.config, fields: shape.fields)))
                                     as? [String: Any])
            XCTAssertEqual(keys.map { (json[$0] as? NSNumber)?.doubleValue ?? .nan }, expected[shape.name], shape.name)
            XCTAssertNil(json["rope_scaling"], shape.name)
            XCTAssertEqual(json["tie_word_embeddings"] as? Bool, false, shape.name)
            XCTAssertNoThrow(try shape.config.validate(source: shape.name))
        }
        let names = { (shape: String) in Set(SyntheticTensor.all(SyntheticShape.named(shape)!.config).map(\.name)) }
        XCTAssertTrue(names("qwen2.5-7b").isSuperset(of: ["model.layers.27.self_attn.q_proj.bias", "model.layers.0.self_attn.v_proj.bias"]))
        XCTAssertTrue(names("phi-3-mini").isSuperset(of: ["model.layers.31.self_attn.qkv_proj.weight", "model.layers.0.mlp.gate_up_proj.weight"]))
        XCTAssertFalse(names("phi-3-mini").contains("model.layers.0.self_attn.q_proj.weight"))
        XCTAssertFalse(names("llama-3-8b").contains("model.layers.0.self_attn.q_proj.bias"))
    }

    /// Each family (GQA llama, qwen2 with biases, phi3 fused) in several shards loads with
    /// the harness loader, and text through it gives finite logits and a perplexity near
    /// the vocabulary size (small random logits are nearly uniform).
    func testEveryFamilyLoadsAndGivesFiniteNearUniformPredictions() throws {
        for name in ["llama-3-8b", "qwen2.5-7b", "phi-3-mini"] {
            let (path, record) = try write(try scaled(name), to: name)
            XCTAssertGreaterThan(record.shards.count, 1, name)
            XCTAssertEqual(try JSONDecoder().decode(SyntheticRecord.self, from: Data(contentsOf: URL(fileURLWithPath: path + "/synth.json"))), record)
            let loaded = try ModelLoader.load(path)
            XCTAssertEqual(loaded.model.layers.count, 2, name)
            XCTAssertEqual(loaded.model.vocabularySize, loaded.tokenizer.vocabularySize, name)
            XCTAssertEqual(record.vocabSize, loaded.tokenizer.vocabularySize, name)
            XCTAssertEqual(loaded.model.layers[0].attention.bqkv != nil, name == "qwen2.5-7b", name)

            let tokens = loaded.tokenizer.encode("The quick brown fox jumps over the lazy dog, and the dog sleeps on.", addSpecialTokens: false)
            let hidden = try loaded.model.hiddenStates(tokens: tokens)
            XCTAssertTrue(hidden.elements.allSatisfy(\.isFinite), name)
            let nll = loaded.model.negativeLogLikelihoods(hidden: hidden, targets: Array(tokens.dropFirst()) + [-1]).dropLast()
            let mean = nll.reduce(0, +) / Double(nll.count)
            XCTAssertEqual(mean, log(Double(record.vocabSize)), accuracy: 0.5, name)

            // Weights are N(0, 0.02²) (the embedding: 3 M values), norms exactly 1.
            let checkpoint = try SafetensorsCheckpoint(folder: path)
            let embedding = try checkpoint.floats("model.embed_tokens.weight").map(Double.init)
            let mu = embedding.reduce(0, +) / Double(embedding.count)
            let sigma = (embedding.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(embedding.count)).squareRoot()
            XCTAssertEqual(mu, 0, accuracy: 1e-4, name)
            XCTAssertEqual(sigma, 0.02, accuracy: 2e-4, name)
            XCTAssertEqual(Set(try checkpoint.floats("model.layers.1.input_layernorm.weight")), [1], name)
        }
    }

    func testTheSameSeedGivesIdenticalFilesAndAnotherSeedOtherWeights() throws {
        let shape = try scaled("llama-2-7b")
        let (first, _) = try write(shape, seed: 5, to: "first")
        let (second, _) = try write(shape, seed: 5, to: "second")
        let (other, _) = try write(shape, seed: 6, to: "other")
        let files = try FileManager.default.contentsOfDirectory(atPath: first).sorted()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: second).sorted(), files)
        for file in files {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: first + "/" + file)),
                           try Data(contentsOf: URL(fileURLWithPath: second + "/" + file)), file)
        }
        let a = try SafetensorsCheckpoint(folder: first), b = try SafetensorsCheckpoint(folder: other)
        XCTAssertNotEqual(try a.floats("model.layers.0.mlp.down_proj.weight"), try b.floats("model.layers.0.mlp.down_proj.weight"))
    }

    /// A tensor's values depend on the seed and its name only: fewer layers give the
    /// full model's first layers, and other shard limits the same weights.
    func testFewerLayersAreTheFirstLayersOfTheFullModel() throws {
        let shape = try scaled("qwen2.5-7b")
        let (one, _) = try write(shape, layers: 1, shardBytes: 1 << 30, to: "one")
        let (two, _) = try write(shape, layers: 2, to: "two")
        let a = try SafetensorsCheckpoint(folder: one), b = try SafetensorsCheckpoint(folder: two)
        XCTAssertTrue(Set(b.tensorNames).isSuperset(of: a.tensorNames))
        for name in a.tensorNames { XCTAssertEqual(try a.floats(name), try b.floats(name), name) }
    }

    /// Any range of a tensor is produced alone, equal to the same part of the whole.
    func testNormalsOfARangeEqualThatPartOfTheWhole() throws {
        let normals = SeededNormals(seed: 3, name: "w")
        let count = 3 * SeededNormals.blockElements + 11
        var whole = [Float](repeating: 0, count: count)
        whole.withUnsafeMutableBufferPointer { normals.fill(0..<count, std: 1, into: $0) }
        for range in [5..<6, 7..<70_001, (count - 3)..<count, SeededNormals.blockElements..<(2 * SeededNormals.blockElements + 1)] {
            var part = [Float](repeating: 0, count: range.count)
            part.withUnsafeMutableBufferPointer { normals.fill(range, std: 1, into: $0) }
            XCTAssertEqual(part, Array(whole[range]), "\(range)")
        }
        let mean = whole.reduce(0, +) / Float(count)
        let variance = whole.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(count)
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(variance, 1, accuracy: 0.01)
        XCTAssertNotEqual(whole[0..<100], whole[SeededNormals.blockElements..<(SeededNormals.blockElements + 100)])
    }
}
