import Foundation
import LinAlg
import ModelIO

/// Names of the tensors only pruned checkpoints have, under `model.layers.N.`.
enum PrunedTensorNames {
    static let attentionShortcut = "attn_shortcut.weight"
    static let mlpShortcut = "mlp_shortcut.weight"
}

/// Writes a `TransformerModel` as a HuggingFace-style checkpoint folder (`config.json` and
/// `model.safetensors`, F32) that `HFCheckpointLoader` reads back into bit-identical
/// weights. Every layer's own shape goes into the config (`intraslice_pruned_layers`),
/// so pruned models with per-layer head counts, head sizes and RoPE frequencies reload
/// exactly; SliceGPT's shortcut matrices are stored as ordinary tensors.
///
/// The folder must be new or empty, so that a checkpoint never mixes with or overwrites
/// files already there; the commands write into the folder `OutputFolder` assembles.
public enum HFCheckpointWriter {
    /// Writes `model` (derived from `source`) with a tokenizer: the source folder's
    /// `tokenizer.json` is copied; a GGUF source is named in `intraslice_tokenizer_source`.
    public static func write(_ model: TransformerModel, derivedFrom source: LoadedModel, to folder: String,
                             metadata: [String: String] = [:]) throws {
        var model = model
        let fm = FileManager.default
        try createEmptyFolder(folder)
        let sourceTokenizer = URL(fileURLWithPath: source.path).appendingPathComponent("tokenizer.json")
        let destination = URL(fileURLWithPath: folder).appendingPathComponent("tokenizer.json")
        if fm.fileExists(atPath: sourceTokenizer.path) {
            do { try fm.copyItem(at: sourceTokenizer, to: destination) } catch {
                throw ModelFileError(path: destination.path, message: "cannot copy the tokenizer: \(error.localizedDescription)")
            }
            model.config.tokenizerSource = nil
        } else if model.config.tokenizerSource == nil {
            // A registry name stays a name (the cache may move); a file path is made absolute.
            model.config.tokenizerSource = source.name == source.path ? URL(fileURLWithPath: source.path).standardizedFileURL.path : source.name
        }
        try writeFiles(model, to: folder, metadata: metadata)
    }

    public static func write(_ model: TransformerModel, to folder: String, metadata: [String: String] = [:]) throws {
        try createEmptyFolder(folder)
        try writeFiles(model, to: folder, metadata: metadata)
    }

    private static func createEmptyFolder(_ folder: String) throws {
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) {
            guard entries.isEmpty else { throw ModelFileError(path: folder, message: "not empty: a checkpoint is written into a new folder") }
            return
        }
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw ModelFileError(path: folder, message: "cannot create the folder: \(error.localizedDescription)")
        }
    }

    private static func writeFiles(_ model: TransformerModel, to folder: String, metadata: [String: String]) throws {
        var config = model.config
        config.numHiddenLayers = model.layers.count
        config.tieWordEmbeddings = model.lmHead == nil
        config.rmsNormDivisor = model.residualNormDivisor
        config.normsIncludeOffset = model.architecture == .gemma3 ? true : nil
        config.prunedLayers = model.layers.map { layer in
            let a = layer.attention
            return PrunedLayerSpec(numAttentionHeads: a.numHeads, numKeyValueHeads: a.numKVHeads, kvHeadOfQueryHead: a.kvHeadOfQueryHead,
                                   qkHeadDim: a.qkHeadDim, vHeadDim: a.vHeadDim, ropeInverseFrequencies: a.ropeInverseFrequencies,
                                   attentionScale: a.scale, intermediateSize: layer.mlp.width)
        }

        var tensors = SafetensorsWriter(metadata: metadata.merging(["format": "pt"]) { a, _ in a })
        func add(_ name: String, _ m: Matrix<Float>) throws { try tensors.add(name, shape: [m.rows, m.cols], values: m.elements) }
        func add(_ name: String, _ v: [Float]) throws { try tensors.add(name, shape: [v.count], values: v) }

        try add("model.embed_tokens.weight", model.embedding)
        try add("model.norm.weight", model.finalNorm)
        if let head = model.lmHead { try add("lm_head.weight", head) }
        let gemma = model.architecture == .gemma3
        for (index, layer) in model.layers.enumerated() {
            let p = "model.layers.\(index)."
            let a = layer.attention
            let q = 0..<a.queryWidth, k = a.queryWidth..<(a.queryWidth + a.keyWidth), v = (a.queryWidth + a.keyWidth)..<a.fusedWidth
            if model.architecture == .phi3 {
                try add(p + "self_attn.qkv_proj.weight", a.wqkv)
                try add(p + "mlp.gate_up_proj.weight", layer.mlp.wGateUp)
            } else {
                try add(p + "self_attn.q_proj.weight", a.wqkv.selectingRows(Array(q)))
                try add(p + "self_attn.k_proj.weight", a.wqkv.selectingRows(Array(k)))
                try add(p + "self_attn.v_proj.weight", a.wqkv.selectingRows(Array(v)))
                let f = layer.mlp.width
                try add(p + "mlp.gate_proj.weight", layer.mlp.wGateUp.selectingRows(Array(0..<f)))
                try add(p + "mlp.up_proj.weight", layer.mlp.wGateUp.selectingRows(Array(f..<(2 * f))))
            }
            if let b = a.bqkv {
                try add(p + "self_attn.q_proj.bias", Array(b[q]))
                try add(p + "self_attn.k_proj.bias", Array(b[k]))
                try add(p + "self_attn.v_proj.bias", Array(b[v]))
            }
            if let qNorm = a.qNorm { try add(p + "self_attn.q_norm.weight", qNorm) }
            if let kNorm = a.kNorm { try add(p + "self_attn.k_norm.weight", kNorm) }
            try add(p + "self_attn.o_proj.weight", a.wo)
            try add(p + "mlp.down_proj.weight", layer.mlp.wDown)
            try add(p + "input_layernorm.weight", layer.attentionNorm)
            if gemma {
                try add(p + "post_attention_layernorm.weight", layer.postAttentionNorm ?? [])
                try add(p + "pre_feedforward_layernorm.weight", layer.mlpNorm)
                try add(p + "post_feedforward_layernorm.weight", layer.postMLPNorm ?? [])
            } else {
                try add(p + "post_attention_layernorm.weight", layer.mlpNorm)
            }
            if let s = layer.attentionShortcut { try add(p + PrunedTensorNames.attentionShortcut, s) }
            if let s = layer.mlpShortcut { try add(p + PrunedTensorNames.mlpShortcut, s) }
        }
        try tensors.write(to: (folder as NSString).appendingPathComponent("model.safetensors"))

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let configPath = (folder as NSString).appendingPathComponent("config.json")
        do { try encoder.encode(config).write(to: URL(fileURLWithPath: configPath), options: .atomic) } catch {
            throw ModelFileError(path: configPath, message: "cannot write: \(error.localizedDescription)")
        }
    }
}
