import Foundation
import LinAlg
import ModelIO
import TestSupport
@testable import Transformer
import XCTest

/// A model written as a HuggingFace checkpoint folder and read back gives the same logits.
final class HFCheckpointTests: XCTestCase {
    let tokens: [Int32] = [4, 9, 33, 2, 17, 40, 40, 1]

    /// Writes `model` under HuggingFace names (Phi-3 with fused projections; Gemma norms
    /// stored as w for 1 + w) with a config.json in `folder`.
    func write(_ model: TransformerModel, modelType: String, to folder: URL, tied: Bool) throws {
        let gemma = modelType == "gemma3_text"
        var writer = SafetensorsWriter()
        func add(_ name: String, _ m: Matrix<Float>) throws { try writer.add(name, shape: [m.rows, m.cols], values: m.elements) }
        func norm(_ name: String, _ w: [Float]) throws { try writer.add(name, shape: [w.count], values: gemma ? w.map { $0 - 1 } : w) }
        try add("model.embed_tokens.weight", model.embedding)
        try norm("model.norm.weight", model.finalNorm)
        if !tied { try add("lm_head.weight", model.head) }
        for (i, layer) in model.layers.enumerated() {
            let p = "model.layers.\(i).", a = layer.attention
            let q = a.queryWidth, k = a.keyWidth
            if modelType == "phi3" {
                try add(p + "self_attn.qkv_proj.weight", a.wqkv)
                try add(p + "mlp.gate_up_proj.weight", layer.mlp.wGateUp)
            } else {
                try add(p + "self_attn.q_proj.weight", a.wqkv.selectingRows(Array(0..<q)))
                try add(p + "self_attn.k_proj.weight", a.wqkv.selectingRows(Array(q..<(q + k))))
                try add(p + "self_attn.v_proj.weight", a.wqkv.selectingRows(Array((q + k)..<a.wqkv.rows)))
                let f = layer.mlp.width
                try add(p + "mlp.gate_proj.weight", layer.mlp.wGateUp.selectingRows(Array(0..<f)))
                try add(p + "mlp.up_proj.weight", layer.mlp.wGateUp.selectingRows(Array(f..<(2 * f))))
            }
            if let b = a.bqkv {
                try writer.add(p + "self_attn.q_proj.bias", shape: [q], values: Array(b[0..<q]))
                try writer.add(p + "self_attn.k_proj.bias", shape: [k], values: Array(b[q..<(q + k)]))
                try writer.add(p + "self_attn.v_proj.bias", shape: [b.count - q - k], values: Array(b[(q + k)...]))
            }
            try add(p + "self_attn.o_proj.weight", a.wo)
            try add(p + "mlp.down_proj.weight", layer.mlp.wDown)
            try norm(p + "input_layernorm.weight", layer.attentionNorm)
            if gemma {
                try norm(p + "self_attn.q_norm.weight", a.qNorm!)
                try norm(p + "self_attn.k_norm.weight", a.kNorm!)
                try norm(p + "post_attention_layernorm.weight", layer.postAttentionNorm!)
                try norm(p + "pre_feedforward_layernorm.weight", layer.mlpNorm)
                try norm(p + "post_feedforward_layernorm.weight", layer.postMLPNorm!)
            } else {
                try norm(p + "post_attention_layernorm.weight", layer.mlpNorm)
            }
        }
        try writer.write(to: folder.appendingPathComponent("model.safetensors").path)
        var config: [String: Any] = [
            "model_type": modelType, "hidden_size": 24, "intermediate_size": 40, "num_hidden_layers": 3,
            "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 6, "vocab_size": 50,
            "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": tied,
        ]
        if gemma {
            config["sliding_window"] = 3
            config["layer_types"] = ["sliding_attention", "sliding_attention", "full_attention"]
            config["rope_local_base_freq"] = 10000.0
            config["query_pre_attn_scalar"] = 4.0  // scale 1/√4 = 0.5, as the tiny model uses
        }
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
    }

    func roundTrip(_ variant: String, modelType: String, tied: Bool) throws {
        let folder = try makeTemporaryFolder("hf-\(variant)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = TinyModels.model(variant)
        try write(model, modelType: modelType, to: folder, tied: tied)
        let loaded = try HFCheckpointLoader.load(folder: folder.path)
        let expected = model.logits(try model.hiddenStates(tokens: tokens), rows: 0..<tokens.count)
        let actual = loaded.logits(try loaded.hiddenStates(tokens: tokens), rows: 0..<tokens.count)
        XCTAssertLessThan((actual - expected).frobeniusNorm / expected.frobeniusNorm, 1e-6, variant)
        XCTAssertEqual(loaded.layers.map(\.attention.slidingWindow), model.layers.map(\.attention.slidingWindow))
    }

    func testLlamaQwenGemmaAndPhi3FoldersLoadBack() throws {
        try roundTrip("llama", modelType: "llama", tied: true)
        try roundTrip("qwen2", modelType: "qwen2", tied: false)
        try roundTrip("gemma3", modelType: "gemma3_text", tied: true)
        try roundTrip("llama", modelType: "phi3", tied: true)
    }

    func testMissingConfigUnsupportedTypeAndMissingTensorAreClearErrors() throws {
        let folder = try makeTemporaryFolder("hf-errors")
        defer { try? FileManager.default.removeItem(at: folder) }
        XCTAssertThrowsError(try HFCheckpointLoader.load(folder: folder.path)) { error in
            XCTAssertTrue(String(describing: error).contains("config.json: missing"), "\(error)")
        }
        try write(TinyModels.model("llama"), modelType: "llama", to: folder, tied: true)
        let configURL = folder.appendingPathComponent("config.json")
        let config = try String(contentsOf: configURL, encoding: .utf8)
        try config.replacingOccurrences(of: "\"llama\"", with: "\"mamba\"").write(to: configURL, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try HFCheckpointLoader.load(folder: folder.path)) { error in
            XCTAssertTrue(String(describing: error).contains("unsupported model_type 'mamba'"), "\(error)")
        }
        try config.replacingOccurrences(of: "\"num_hidden_layers\":3", with: "\"num_hidden_layers\":4").write(to: configURL, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try HFCheckpointLoader.load(folder: folder.path)) { error in
            XCTAssertTrue(String(describing: error).contains("tensor model.layers.3.self_attn.q_proj.weight is missing"), "\(error)")
        }
    }
}
