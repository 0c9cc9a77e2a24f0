import Foundation
import LinAlg
import ModelIO
import TestSupport
@testable import Transformer
import XCTest

/// A tiny model written as llama.cpp writes a `llama` GGUF (F32 tensors, Q/K rows
/// permuted to interleaved RoPE pairs) loads back to the same logits.
final class GGUFLoaderTests: XCTestCase {
    func llamaGGUF(_ model: TransformerModel, architecture: String = "llama") -> TinyGGUF {
        var g = TinyGGUF()
        g.metadata = [
            ("general.architecture", .string(architecture)),
            ("\(architecture).embedding_length", .uint32(24)), ("\(architecture).feed_forward_length", .uint32(40)),
            ("\(architecture).block_count", .uint32(3)), ("\(architecture).attention.head_count", .uint32(4)),
            ("\(architecture).attention.head_count_kv", .uint32(2)),
            ("\(architecture).attention.layer_norm_rms_epsilon", .float32(1e-6)),
            ("\(architecture).rope.freq_base", .float32(10_000)),
        ]
        func add(_ name: String, _ m: Matrix<Float>) {
            g.tensors.append((name, [m.cols, m.rows], 0, floatBytes(m.elements)))  // ggml order: ne[0] = columns
        }
        func add(_ name: String, _ v: [Float]) { g.tensors.append((name, [v.count], 0, floatBytes(v))) }
        /// HuggingFace row h·d + half·d/2 + i goes to GGUF row h·d + 2i + half.
        func permuted(_ w: Matrix<Float>, heads: Int) -> Matrix<Float> {
            let d = w.rows / heads
            var order = [Int](repeating: 0, count: w.rows)
            for h in 0..<heads { for half in 0..<2 { for i in 0..<(d / 2) { order[h * d + 2 * i + half] = h * d + half * d / 2 + i } } }
            return w.selectingRows(order)
        }
        add("token_embd.weight", model.embedding)
        add("output_norm.weight", model.finalNorm)
        for (i, layer) in model.layers.enumerated() {
            let a = layer.attention, p = "blk.\(i)."
            let q = a.queryWidth, k = a.keyWidth, f = layer.mlp.width
            add(p + "attn_norm.weight", layer.attentionNorm)
            add(p + "attn_q.weight", permuted(a.wqkv.selectingRows(Array(0..<q)), heads: a.numHeads))
            add(p + "attn_k.weight", permuted(a.wqkv.selectingRows(Array(q..<(q + k))), heads: a.numKVHeads))
            add(p + "attn_v.weight", a.wqkv.selectingRows(Array((q + k)..<a.wqkv.rows)))
            add(p + "attn_output.weight", a.wo)
            add(p + "ffn_norm.weight", layer.mlpNorm)
            add(p + "ffn_gate.weight", layer.mlp.wGateUp.selectingRows(Array(0..<f)))
            add(p + "ffn_up.weight", layer.mlp.wGateUp.selectingRows(Array(f..<(2 * f))))
            add(p + "ffn_down.weight", layer.mlp.wDown)
        }
        return g
    }

    func testLlamaGGUFLoadsWithRotaryRowsRestored() throws {
        let model = TinyModels.model("llama")
        let loaded = try GGUFLoader.load(GGUFFile(path: try llamaGGUF(model).write()))
        let tokens: [Int32] = [5, 1, 44, 23, 23, 7]
        let expected = model.logits(try model.hiddenStates(tokens: tokens), rows: 0..<tokens.count)
        let actual = loaded.logits(try loaded.hiddenStates(tokens: tokens), rows: 0..<tokens.count)
        XCTAssertLessThan((actual - expected).frobeniusNorm / expected.frobeniusNorm, 1e-6)
        XCTAssertEqual(loaded.config.numHiddenLayers, 3)
        XCTAssertEqual(loaded.lmHead == nil, true, "no output.weight: tied head")
    }

    func testUnsupportedArchitectureAndMissingTensorsAreClearErrors() throws {
        let model = TinyModels.model("llama")
        let mamba = try llamaGGUF(model, architecture: "mamba").write("mamba.gguf")
        XCTAssertThrowsError(try GGUFLoader.load(GGUFFile(path: mamba))) { error in
            XCTAssertEqual(String(describing: error), "\(mamba): unsupported architecture 'mamba' (GGUF: llama, qwen2, gemma3; mistral, phi3 load from HuggingFace safetensors)")
        }
        var incomplete = llamaGGUF(model)
        incomplete.tensors.removeAll { $0.name == "blk.2.ffn_down.weight" }
        let path = try incomplete.write("incomplete.gguf")
        XCTAssertThrowsError(try GGUFLoader.load(GGUFFile(path: path))) { error in
            XCTAssertEqual(String(describing: error), "\(path): tensor blk.2.ffn_down.weight is missing")
        }
    }
}
