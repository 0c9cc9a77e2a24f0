import Foundation
import LinAlg
import ModelIO

/// Builds a `TransformerModel` from a GGUF checkpoint: translates llama.cpp's metadata
/// into a `ModelConfig`, maps its tensor names to the blocks, dequantizes to Float32 and
/// undoes the Q/K row permutation of `llama` files so every architecture shares one
/// RoPE convention.
public enum GGUFLoader {
    public static func load(_ file: GGUFFile) throws -> TransformerModel {
        let archName = file.architecture ?? ""
        guard let architecture = Architecture(modelType: archName), architecture != .phi3 else {
            throw ModelFileError(path: file.path, message: "unsupported architecture '\(archName)' (GGUF: llama, qwen2, gemma3; phi3 loads from HuggingFace safetensors)")
        }
        let meta = Metadata(file: file, prefix: archName)
        let hidden = try meta.int("embedding_length")
        let heads = try meta.int("attention.head_count")
        let headDim = meta.optionalInt("attention.key_length") ?? hidden / heads
        var config = ModelConfig(
            modelType: archName, hiddenSize: hidden, intermediateSize: try meta.int("feed_forward_length"),
            numHiddenLayers: try meta.int("block_count"), numAttentionHeads: heads,
            numKeyValueHeads: meta.optionalInt("attention.head_count_kv") ?? heads, headDim: headDim,
            vocabSize: file.tensor(named: "token_embd.weight")?.shape.first ?? 0,
            rmsNormEps: try meta.double("attention.layer_norm_rms_epsilon"),
            ropeTheta: meta.optionalDouble("rope.freq_base") ?? 10_000,
            tieWordEmbeddings: file.tensor(named: "output.weight") == nil,
            maxPositionEmbeddings: meta.optionalInt("context_length"))
        if let kind = meta.optionalString("rope.scaling.type"), kind != "none" {
            config.ropeScaling = RopeScaling(ropeType: kind, factor: meta.optionalDouble("rope.scaling.factor"))
        }
        if architecture == .gemma3 {
            // llama.cpp's gemma3 conventions, which its GGUF metadata does not repeat: every
            // sixth layer is global, local layers use RoPE base 10⁴, queries scale by 1/√head_dim.
            config.slidingWindow = meta.optionalInt("attention.sliding_window")
            config.slidingWindowPattern = 6
            config.ropeLocalBaseFreq = 10_000
            config.queryPreAttnScalar = Double(headDim)
            config.hiddenActivation = "gelu_pytorch_tanh"
        }
        let weights = GGUFWeights(file: file)
        return try ModelAssembly(config: config, architecture: architecture,
                                 ropeFactors: try weights.optionalVector("rope_freqs.weight"), source: file.path).build(
            embedding: try weights.matrix("token_embd.weight"),
            finalNorm: try weights.vector("output_norm.weight"),
            lmHead: try weights.optionalMatrix("output.weight"),
            layer: { index in
                let p = "blk.\(index)."
                var wq = try weights.matrix(p + "attn_q.weight"), wk = try weights.matrix(p + "attn_k.weight")
                var bq = try weights.optionalVector(p + "attn_q.bias"), bk = try weights.optionalVector(p + "attn_k.bias")
                if architecture == .llama {
                    wq = unpermuteRotaryRows(wq, heads: heads)
                    wk = unpermuteRotaryRows(wk, heads: config.numKeyValueHeads)
                    bq = bq.map { unpermuteRotaryRows(Matrix(rows: $0.count, cols: 1, elements: $0), heads: heads).elements }
                    bk = bk.map { unpermuteRotaryRows(Matrix(rows: $0.count, cols: 1, elements: $0), heads: config.numKeyValueHeads).elements }
                }
                return LayerTensors(
                    attentionNorm: try weights.vector(p + "attn_norm.weight"),
                    wq: wq, wk: wk, wv: try weights.matrix(p + "attn_v.weight"),
                    bq: bq, bk: bk, bv: try weights.optionalVector(p + "attn_v.bias"),
                    qNorm: try weights.optionalVector(p + "attn_q_norm.weight"),
                    kNorm: try weights.optionalVector(p + "attn_k_norm.weight"),
                    wo: try weights.matrix(p + "attn_output.weight"),
                    postAttentionNorm: try weights.optionalVector(p + "post_attention_norm.weight"),
                    mlpNorm: try weights.vector(p + "ffn_norm.weight"),
                    wGate: try weights.matrix(p + "ffn_gate.weight"), wUp: try weights.matrix(p + "ffn_up.weight"),
                    wDown: try weights.matrix(p + "ffn_down.weight"),
                    postMLPNorm: try weights.optionalVector(p + "post_ffw_norm.weight"))
            })
    }

    /// llama.cpp's converter reorders each head's rows of Wq and Wk from HuggingFace's
    /// half-split layout (row h·d/2 + i for half h) to interleaved pairs (row 2i + h).
    /// This puts them back.
    static func unpermuteRotaryRows(_ w: Matrix<Float>, heads: Int) -> Matrix<Float> {
        let headDim = w.rows / heads, half = headDim / 2
        var order: [Int] = []
        order.reserveCapacity(w.rows)
        for head in 0..<heads {
            for h in 0..<2 { for i in 0..<half { order.append(head * headDim + 2 * i + h) } }
        }
        return w.selectingRows(order)
    }
}

/// Typed access to `<arch>.<key>` metadata with errors that name the file and the key.
private struct Metadata {
    let file: GGUFFile
    let prefix: String

    func value(_ key: String) -> GGUFValue? { file.metadata["\(prefix).\(key)"] }

    func int(_ key: String) throws -> Int {
        guard let v = value(key)?.intValue else { throw missing(key) }
        return v
    }
    func double(_ key: String) throws -> Double {
        guard let v = value(key)?.doubleValue else { throw missing(key) }
        return v
    }
    func optionalInt(_ key: String) -> Int? { value(key)?.intValue }
    func optionalDouble(_ key: String) -> Double? { value(key)?.doubleValue }
    func optionalString(_ key: String) -> String? { value(key)?.stringValue }

    private func missing(_ key: String) -> ModelFileError {
        ModelFileError(path: file.path, message: "metadata key '\(prefix).\(key)' is missing or not a number")
    }
}

/// Dequantized tensors of a GGUF file by llama.cpp name.
private struct GGUFWeights {
    let file: GGUFFile

    func optionalMatrix(_ name: String) throws -> Matrix<Float>? {
        guard let info = file.tensor(named: name) else { return nil }
        let shape = info.shape
        guard shape.count == 2 else {
            throw ModelFileError(path: file.path, message: "tensor \(name) has shape \(shape), expected a matrix")
        }
        return Matrix(rows: shape[0], cols: shape[1], elements: try file.dequantize(info))
    }

    func matrix(_ name: String) throws -> Matrix<Float> {
        guard let m = try optionalMatrix(name) else { throw ModelFileError(path: file.path, message: "tensor \(name) is missing") }
        return m
    }

    func optionalVector(_ name: String) throws -> [Float]? {
        guard let info = file.tensor(named: name) else { return nil }
        return try file.dequantize(info)
    }

    func vector(_ name: String) throws -> [Float] {
        guard let v = try optionalVector(name) else { throw ModelFileError(path: file.path, message: "tensor \(name) is missing") }
        return v
    }
}
