import Foundation
import LinAlg
import ModelIO

/// Modules only pruned checkpoints have, in every family's layers (`model.layers.N.`).
enum PrunedTensorNames {
    static let attentionShortcut = "attn_shortcut"
    static let mlpShortcut = "mlp_shortcut"
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
        let family = model.architecture
        config.normsIncludeOffset = family.storedNormOffset != 0 ? true : nil
        config.prunedLayers = model.layers.map { layer in
            let a = layer.attention
            return PrunedLayerSpec(numAttentionHeads: a.numHeads, numKeyValueHeads: a.numKVHeads, kvHeadOfQueryHead: a.kvHeadOfQueryHead,
                                   qkHeadDim: a.qkHeadDim, vHeadDim: a.vHeadDim, ropeInverseFrequencies: a.ropeInverseFrequencies,
                                   attentionScale: a.scale, intermediateSize: layer.mlp.width)
        }

        let names = family.huggingFace, layerNames = names.layer
        var tensors = SafetensorsWriter(metadata: metadata.merging(["format": "pt"]) { a, _ in a })
        func add(_ name: String, _ m: Matrix<Float>) throws { try tensors.add(name, shape: [m.rows, m.cols], values: m.elements) }
        func add(_ name: String, _ v: [Float]) throws { try tensors.add(name, shape: [v.count], values: v) }
        /// Rows `parts` of the fused `m` (and of its bias), under the family's stacking.
        func add(_ stacking: Stacking, layer index: Int, _ m: Matrix<Float>, bias: [Float]?, parts: [Int]) throws {
            switch stacking {
            case .fused(let module):
                let name = names.layerModule(index, module)
                try add(TensorNames.weight(name), m)
                if let bias { try add(TensorNames.bias(name), bias) }
            case .separate(let modules):
                var start = 0
                for (module, count) in zip(modules, parts) {
                    let name = names.layerModule(index, module), rows = start..<(start + count)
                    try add(TensorNames.weight(name), m.selectingRows(Array(rows)))
                    if let bias { try add(TensorNames.bias(name), Array(bias[rows])) }
                    start += count
                }
            }
        }

        try add(TensorNames.weight(names.embedding), model.embedding)
        try add(TensorNames.weight(names.finalNorm), model.finalNorm)
        if let head = model.lmHead { try add(TensorNames.weight(names.lmHead), head) }
        for (index, layer) in model.layers.enumerated() {
            func weight(_ module: String) -> String { TensorNames.weight(names.layerModule(index, module)) }
            let a = layer.attention
            try add(layerNames.queryKeyValue, layer: index, a.wqkv, bias: a.bqkv, parts: [a.queryWidth, a.keyWidth, a.valueWidth])
            try add(layerNames.gateUp, layer: index, layer.mlp.wGateUp, bias: nil, parts: [layer.mlp.width, layer.mlp.width])
            try add(weight(layerNames.attentionOutput), a.wo)
            try add(weight(layerNames.down), layer.mlp.wDown)
            try add(weight(layerNames.attentionNorm), layer.attentionNorm)
            try add(weight(layerNames.mlpNorm), layer.mlpNorm)
            // A norm the family has and the model lacks (or the reverse) would not reload.
            for (module, values) in [(layerNames.queryNorm, a.qNorm), (layerNames.keyNorm, a.kNorm),
                                     (layerNames.postAttentionNorm, layer.postAttentionNorm), (layerNames.postMLPNorm, layer.postMLPNorm)] {
                guard (module == nil) == (values == nil) else {
                    throw ModelFileError(path: folder, message: "layer \(index) does not have the norms of the \(family) family it claims")
                }
                if let module, let values { try add(weight(module), values) }
            }
            if let s = layer.attentionShortcut { try add(weight(PrunedTensorNames.attentionShortcut), s) }
            if let s = layer.mlpShortcut { try add(weight(PrunedTensorNames.mlpShortcut), s) }
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
