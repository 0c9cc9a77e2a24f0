import Foundation
import LinAlg
import ModelIO
import TestSupport
@testable import Transformer
import XCTest

/// A checkpoint whose config contradicts its tensors, or whose numbers would divide by
/// zero or overflow, is refused at load time with one line naming the file; nothing is
/// believed and nothing crashes.
extension HFCheckpointTests {
    /// Writes the tiny llama folder, lets `edit` change its config, and returns the load error.
    private func loadError(variant: String = "llama", modelType: String = "llama", tied: Bool = true,
                           _ edit: (inout [String: Any]) -> Void) throws -> String {
        let folder = try makeTemporaryFolder("hf-contradiction")
        defer { try? FileManager.default.removeItem(at: folder) }
        try write(TinyModels.model(variant), modelType: modelType, to: folder, tied: tied)
        let configURL = folder.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        do {
            _ = try HFCheckpointLoader.load(folder: folder.path)
        } catch let error as ModelFileError {
            XCTAssertFalse(error.description.contains("\n"), "one line: \(error)")
            XCTAssertTrue(error.path.hasPrefix(folder.path), "names the file: \(error)")
            return error.message
        }
        XCTFail("the contradictory checkpoint loaded")
        return ""
    }

    func testZeroAndNegativeConfigNumbersAreRefusedBeforeAnyDivision() throws {
        for (key, value) in [("num_attention_heads", 0), ("num_key_value_heads", 0), ("hidden_size", 0), ("head_dim", 0),
                             ("num_hidden_layers", -1), ("intermediate_size", 0), ("vocab_size", 0)] {
            let message = try loadError { $0[key] = value }
            XCTAssertTrue(message.contains("\(key) is \(value)"), message)
        }
        XCTAssertTrue(try loadError { $0["rms_norm_eps"] = -1 }.contains("rms_norm_eps is -1.0"))
        XCTAssertTrue(try loadError { $0["num_key_value_heads"] = 3 }.contains("not a multiple of num_key_value_heads 3"))
    }

    func testAConfigContradictingTheStoredTensorsIsNotBelieved() throws {
        // Each of these loaded before (head counts and sizes were read off the weights).
        XCTAssertEqual(try loadError { $0["num_attention_heads"] = 2 },
                       "layer 0: the query projection is 24 × 24, the config implies 12 × 24")
        XCTAssertEqual(try loadError { $0["num_key_value_heads"] = 1 },
                       "layer 0: the key projection is 12 × 24, the config implies 6 × 24")
        XCTAssertEqual(try loadError { $0["head_dim"] = 4 },
                       "layer 0: the query projection is 24 × 24, the config implies 16 × 24")
        XCTAssertEqual(try loadError { $0["intermediate_size"] = 32 },
                       "layer 0: the gate projection is 40 × 24, the config implies 32 × 24")
        XCTAssertEqual(try loadError { $0["vocab_size"] = 60 }, "the embedding is 50 × 24, the config implies 60 × 24")
        XCTAssertTrue(try loadError { $0["num_hidden_layers"] = 2 }.contains("are not part of the model the config describes: model.layers.2."))
    }

    func testLMHeadAndTyingMustAgree() throws {
        XCTAssertEqual(try loadError(tied: true) { $0["tie_word_embeddings"] = false },
                       "tie_word_embeddings is false but lm_head.weight is missing")
        XCTAssertTrue(try loadError(variant: "qwen2", modelType: "qwen2", tied: false) { $0["tie_word_embeddings"] = true }
            .contains("lm_head.weight differs from the embedding"))
    }

    func testMalformedConfigValuesGetOneLineWithoutFoundationDumps() throws {
        XCTAssertEqual(try loadError { $0["num_attention_heads"] = "four" },
                       "not a usable HuggingFace config: 'num_attention_heads' is not an integer")
        XCTAssertEqual(try loadError { $0.removeValue(forKey: "rope_theta") },
                       "rope_theta is missing (neither rope_theta nor rope_parameters gives the RoPE base)")
        XCTAssertEqual(try loadError { $0["rope_scaling"] = ["rope_type": "llama3", "factor": 8.0] },
                       "rope_scaling of type llama3 needs low_freq_factor")
        XCTAssertEqual(try loadError { $0["rope_scaling"] = ["rope_type": "yarn", "factor": 4.0] },
                       "unsupported rope_scaling type 'yarn' (default, linear, llama3 and longrope are implemented)")
    }

    func testANonFiniteWeightIsRefusedWithTheTensorsName() throws {
        let folder = try makeTemporaryFolder("hf-nan")
        defer { try? FileManager.default.removeItem(at: folder) }
        var model = TinyModels.model("llama")
        model.layers[1].mlp.wDown.elements[7] = .nan
        try write(model, modelType: "llama", to: folder, tied: true)
        XCTAssertThrowsError(try HFCheckpointLoader.load(folder: folder.path)) {
            XCTAssertEqual("\($0)", "\(folder.path): tensor model.layers.1.mlp.down_proj.weight holds a non-finite value (nan at element 7)")
        }
    }

    func testPrunedLayerEntriesAreCheckedBeforeUse() throws {
        var config = TinyModels.model("llama").config
        let spec = PrunedLayerSpec(numAttentionHeads: 2, numKeyValueHeads: 1, kvHeadOfQueryHead: [0, 0], qkHeadDim: 4, vHeadDim: 6,
                                   ropeInverseFrequencies: [1, 0.1], attentionScale: 0.5, intermediateSize: 8)
        config.prunedLayers = Array(repeating: spec, count: 3)
        XCTAssertNoThrow(try config.validate(source: "c.json"))
        var broken = spec
        broken.numKeyValueHeads = 0
        config.prunedLayers![1] = broken
        XCTAssertThrowsError(try config.validate(source: "c.json")) {
            XCTAssertEqual("\($0)", "c.json: intraslice_pruned_layers[1].num_key_value_heads is 0; it must be between 1 and 4194304")
        }
        broken = spec
        broken.kvHeadOfQueryHead = [0, 3]
        config.prunedLayers![1] = broken
        XCTAssertThrowsError(try config.validate(source: "c.json")) { XCTAssertTrue("\($0)".contains("a KV head in 0..<1"), "\($0)") }
        broken = spec
        broken.attentionScale = .infinity
        config.prunedLayers![1] = broken
        XCTAssertThrowsError(try config.validate(source: "c.json")) { XCTAssertTrue("\($0)".contains("attention_scale is inf"), "\($0)") }
        config.prunedLayers = [spec]
        XCTAssertThrowsError(try config.validate(source: "c.json")) { XCTAssertTrue("\($0)".contains("lists 1 layer shapes for 3 layers"), "\($0)") }
    }
}

extension GGUFLoaderTests {
    private func loadError(_ edit: (inout TinyGGUF) -> Void) throws -> String {
        var gguf = llamaGGUF(TinyModels.model("llama"))
        edit(&gguf)
        let path = try gguf.write("contradiction.gguf")
        do { _ = try GGUFLoader.load(GGUFFile(path: path)) } catch let error as ModelFileError {
            XCTAssertEqual(error.path, path)
            return error.message
        }
        XCTFail("the contradictory GGUF loaded")
        return ""
    }

    private func setting(_ key: String, _ value: GGUFValue) -> (inout TinyGGUF) -> Void {
        { gguf in
            gguf.metadata.removeAll { $0.0 == key }
            gguf.metadata.append((key, value))
        }
    }

    func testARenamedOrMistypedMetadataKeyIsNotReplacedByADefault() throws {
        let renamed = try loadError { gguf in
            let index = gguf.metadata.firstIndex { $0.0 == "llama.rope.freq_base" }!
            gguf.metadata[index].0 = "llama.rope.freq_bas"
        }
        XCTAssertTrue(renamed.hasPrefix("unknown metadata key 'llama.rope.freq_bas'"), renamed)
        XCTAssertEqual(try loadError(setting("llama.attention.head_count_kv", .string("2"))),
                       "metadata key 'llama.attention.head_count_kv' is not an integer")
    }

    func testHeaderNumbersThatContradictTheTensorsAreRefused() throws {
        XCTAssertEqual(try loadError(setting("llama.attention.head_count", .uint32(0))),
                       "llama.embedding_length (24) and llama.attention.head_count (0) must be positive")
        XCTAssertEqual(try loadError(setting("llama.attention.head_count_kv", .uint32(4))),
                       "layer 0: the key projection is 12 × 24, the config implies 24 × 24")
        // Two heads of 24 / 2 = 12 fit the query rows; the two KV heads of 12 do not fit the key rows.
        XCTAssertEqual(try loadError(setting("llama.attention.head_count", .uint32(2))),
                       "layer 0: the key projection is 12 × 24, the config implies 24 × 24")
        XCTAssertEqual(try loadError(setting("llama.vocab_size", .uint32(51))), "llama.vocab_size is 51, token_embd.weight has 50 rows")
        XCTAssertTrue(try loadError(setting("llama.block_count", .uint32(2))).contains("not part of the model the config describes: blk.2."))
        XCTAssertEqual(try loadError(setting("llama.rope.dimension_count", .uint32(4))),
                       "llama.rope.dimension_count is 4, the head size 6; partial rotary embeddings and value heads of another size are not supported")
    }

    func testRopeFactorsOfTheWrongLengthAreRefused() throws {
        let message = try loadError { $0.tensors.append(("rope_freqs.weight", [2], 0, floatBytes([1, 1]))) }
        XCTAssertEqual(message, "rope_freqs.weight holds 2 factors; the head size 6 needs 3 positive ones")
    }
}
