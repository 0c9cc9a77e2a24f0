import Foundation
import LinAlg
import ModelIO

/// Builds a `TransformerModel` from a HuggingFace checkpoint folder: `config.json` plus
/// `model.safetensors` (or shards listed in `model.safetensors.index.json`), in F32, F16
/// or BF16. Weight names are HuggingFace's; Phi-3's fused projections are split, and
/// Gemma's norm weights, stored as w for a scale of 1 + w, get their 1 added here.
public enum HFCheckpointLoader {
    public static func load(folder: String) throws -> TransformerModel {
        let configPath = (folder as NSString).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw ModelFileError(path: configPath, message: "missing: a checkpoint folder needs config.json")
        }
        let configData = try RegularFile.read(configPath)
        let config: ModelConfig
        do { config = try JSONDecoder().decode(ModelConfig.self, from: configData) } catch {
            throw ModelFileError(path: configPath, message: "not a usable HuggingFace config: \(describeDecodingFailure(error))")
        }
        guard let architecture = config.architecture else {
            throw ModelFileError(path: configPath, message: "unsupported model_type '\(config.modelType)' (supported: llama, qwen2, gemma3, phi3)")
        }
        try config.validate(source: configPath)
        let checkpoint = try SafetensorsCheckpoint(folder: folder)
        let weights = HFWeights(checkpoint: checkpoint, folder: folder, loaded: LoadedTensors(source: folder),
                                prefix: checkpoint.tensor(named: "language_model.model.embed_tokens.weight") != nil ? "language_model.model." : "model.",
                                normOffset: architecture == .gemma3 && config.normsIncludeOffset != true ? 1 : 0)
        let headDim = config.resolvedHeadDim

        let embedding = try weights.matrix("embed_tokens.weight")
        let model = try ModelAssembly(config: config, architecture: architecture, ropeFactors: nil, source: folder).build(
            embedding: embedding,
            finalNorm: try weights.norm("norm.weight"),
            lmHead: try weights.lmHead(tied: config.tieWordEmbeddings ?? true, embedding: embedding),
            layer: { index in
                let p = "layers.\(index)."
                var wq, wk, wv, wGate, wUp: Matrix<Float>
                if architecture == .phi3 {
                    // The fused tensors split where this layer's shape says (a pruned layer's own).
                    let spec = config.prunedLayers?[index]
                    let qRows = spec.map { $0.numAttentionHeads * $0.qkHeadDim } ?? config.numAttentionHeads * headDim
                    let kRows = spec.map { $0.numKeyValueHeads * $0.qkHeadDim } ?? config.numKeyValueHeads * headDim
                    let vRows = spec.map { $0.numKeyValueHeads * $0.vHeadDim } ?? config.numKeyValueHeads * headDim
                    let ffn = spec?.intermediateSize ?? config.intermediateSize
                    let qkv = try weights.matrix(p + "self_attn.qkv_proj.weight")
                    let gateUp = try weights.matrix(p + "mlp.gate_up_proj.weight")
                    guard qkv.rows == qRows + kRows + vRows, gateUp.rows == 2 * ffn else {
                        throw ModelFileError(path: folder, message: "layer \(index): the fused qkv_proj has \(qkv.rows) rows and gate_up_proj "
                                             + "\(gateUp.rows); the config implies \(qRows + kRows + vRows) and \(2 * ffn)")
                    }
                    wq = qkv.selectingRows(Array(0..<qRows))
                    wk = qkv.selectingRows(Array(qRows..<(qRows + kRows)))
                    wv = qkv.selectingRows(Array((qRows + kRows)..<qkv.rows))
                    wGate = gateUp.selectingRows(Array(0..<ffn))
                    wUp = gateUp.selectingRows(Array(ffn..<gateUp.rows))
                } else {
                    wq = try weights.matrix(p + "self_attn.q_proj.weight")
                    wk = try weights.matrix(p + "self_attn.k_proj.weight")
                    wv = try weights.matrix(p + "self_attn.v_proj.weight")
                    wGate = try weights.matrix(p + "mlp.gate_proj.weight")
                    wUp = try weights.matrix(p + "mlp.up_proj.weight")
                }
                let gemma = architecture == .gemma3
                return LayerTensors(
                    attentionNorm: try weights.norm(p + "input_layernorm.weight"),
                    wq: wq, wk: wk, wv: wv,
                    bq: try weights.optionalVector(p + "self_attn.q_proj.bias"),
                    bk: try weights.optionalVector(p + "self_attn.k_proj.bias"),
                    bv: try weights.optionalVector(p + "self_attn.v_proj.bias"),
                    qNorm: gemma ? try weights.norm(p + "self_attn.q_norm.weight") : nil,
                    kNorm: gemma ? try weights.norm(p + "self_attn.k_norm.weight") : nil,
                    wo: try weights.matrix(p + "self_attn.o_proj.weight"),
                    // Gemma's post_attention_layernorm normalises the attention output; in the
                    // other families the tensor of that name is the norm before the MLP.
                    postAttentionNorm: gemma ? try weights.norm(p + "post_attention_layernorm.weight") : nil,
                    mlpNorm: try weights.norm(p + (gemma ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight")),
                    wGate: wGate, wUp: wUp, wDown: try weights.matrix(p + "mlp.down_proj.weight"),
                    postMLPNorm: gemma ? try weights.norm(p + "post_feedforward_layernorm.weight") : nil,
                    attentionShortcut: try weights.optionalMatrix(p + PrunedTensorNames.attentionShortcut),
                    mlpShortcut: try weights.optionalMatrix(p + PrunedTensorNames.mlpShortcut))
            })
        try weights.loaded.checkAllUsed(stored: checkpoint.tensorNames)
        return model
    }
}

/// Tensors of a safetensors checkpoint by HuggingFace name, as Float32.
private struct HFWeights {
    let checkpoint: SafetensorsCheckpoint
    let folder: String
    let loaded: LoadedTensors
    let prefix: String
    /// Added to every norm weight (1 for Gemma).
    let normOffset: Float

    func optionalMatrix(_ name: String, prefixed: Bool = true) throws -> Matrix<Float>? {
        let full = prefixed ? prefix + name : name
        guard let (_, info) = checkpoint.tensor(named: full) else { return nil }
        guard info.shape.count == 2 else {
            throw ModelFileError(path: folder, message: "tensor \(full) has shape \(info.shape), expected a matrix")
        }
        return Matrix(rows: info.shape[0], cols: info.shape[1], elements: try loaded.accept(try checkpoint.floats(full), name: full))
    }

    func matrix(_ name: String) throws -> Matrix<Float> {
        guard let m = try optionalMatrix(name) else { throw ModelFileError(path: folder, message: "tensor \(prefix + name) is missing") }
        return m
    }

    func optionalVector(_ name: String) throws -> [Float]? {
        guard let (_, info) = checkpoint.tensor(named: prefix + name) else { return nil }
        guard info.shape.count == 1 else {
            throw ModelFileError(path: folder, message: "tensor \(prefix + name) has shape \(info.shape), expected a vector")
        }
        return try loaded.accept(try checkpoint.floats(prefix + name), name: prefix + name)
    }

    /// The LM head, nil when it is the embedding. HuggingFace ties the two unless the config
    /// says `tie_word_embeddings: false`; a stored head that a tied config would discard is
    /// accepted only when it equals the embedding, and an untied config needs its head.
    func lmHead(tied: Bool, embedding: Matrix<Float>) throws -> Matrix<Float>? {
        let head = try optionalMatrix("lm_head.weight", prefixed: false)
        if tied {
            guard head == nil || head! == embedding else {
                throw ModelFileError(path: folder, message: "lm_head.weight differs from the embedding, but the config ties them "
                                     + "(tie_word_embeddings is true or absent)")
            }
            return nil
        }
        guard let head else {
            throw ModelFileError(path: folder, message: "tie_word_embeddings is false but lm_head.weight is missing")
        }
        return head
    }

    func norm(_ name: String) throws -> [Float] {
        guard let v = try optionalVector(name) else { throw ModelFileError(path: folder, message: "tensor \(prefix + name) is missing") }
        return normOffset == 0 ? v : v.map { $0 + normOffset }
    }
}
