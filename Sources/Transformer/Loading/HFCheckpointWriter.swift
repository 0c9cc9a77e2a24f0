import Foundation
import LinAlg
import ModelIO

/// Modules only pruned checkpoints have, in every family's layers (`model.layers.N.`).
enum PrunedTensorNames {
    static let attentionShortcut = "attn_shortcut"
    static let mlpShortcut = "mlp_shortcut"
}

/// Writes a `TransformerModel` as a HuggingFace-style checkpoint folder (`config.json` and
/// F32 safetensors in HuggingFace's sharded layout: `model.safetensors` when it fits one
/// shard) that `HFCheckpointLoader` reads back into bit-identical weights. Every layer's own
/// shape goes into the config (`intraslice_pruned_layers`), so pruned models with per-layer
/// head counts, head sizes and RoPE frequencies reload exactly; SliceGPT's shortcut
/// matrices are stored as ordinary tensors.
///
/// Layers are written one at a time as they are handed over (a streamed prune hands each
/// over as soon as it is finished), then the embedding, final norm and head: a resident
/// and a streamed run write the same bytes. The folder must be new or empty, so that a
/// checkpoint never mixes with or overwrites files already there; the commands write into
/// the folder `OutputFolder` assembles.
public final class HFCheckpointWriter {
    private let folder: String
    private let family: ArchitectureFamily
    private let tensors: ShardedSafetensorsWriter
    private var specs: [PrunedLayerSpec] = []

    public init(folder: String, family: ArchitectureFamily, metadata: [String: String] = [:],
                maxShardBytes: Int = ShardedSafetensorsWriter.defaultMaxShardBytes) throws {
        try Self.createEmptyFolder(folder)
        self.folder = folder
        self.family = family
        tensors = try ShardedSafetensorsWriter(folder: folder, dtype: .f32, maxShardBytes: maxShardBytes,
                                               metadata: metadata.merging(["format": "pt"]) { a, _ in a })
    }

    /// Appends the next layer (layers come in order, from 0).
    public func add(layer: DecoderLayer) throws {
        let index = specs.count
        let names = family.huggingFace, layerNames = names.layer
        func add(_ name: String, _ m: Matrix<Float>) throws { try tensors.append(name, shape: [m.rows, m.cols], values: m.elements) }
        func add(_ name: String, _ v: [Float]) throws { try tensors.append(name, shape: [v.count], values: v) }
        /// Rows `parts` of the fused `m` (and of its bias), under the family's stacking.
        func add(_ stacking: Stacking, _ m: Matrix<Float>, bias: [Float]?, parts: [Int]) throws {
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
        func weight(_ module: String) -> String { TensorNames.weight(names.layerModule(index, module)) }
        let a = layer.attention
        try add(layerNames.queryKeyValue, a.wqkv, bias: a.bqkv, parts: [a.queryWidth, a.keyWidth, a.valueWidth])
        try add(layerNames.gateUp, layer.mlp.wGateUp, bias: nil, parts: [layer.mlp.width, layer.mlp.width])
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
        specs.append(PrunedLayerSpec(numAttentionHeads: a.numHeads, numKeyValueHeads: a.numKVHeads, kvHeadOfQueryHead: a.kvHeadOfQueryHead,
                                     qkHeadDim: a.qkHeadDim, vHeadDim: a.vHeadDim, ropeInverseFrequencies: a.ropeInverseFrequencies,
                                     attentionScale: a.scale, intermediateSize: layer.mlp.width))
    }

    /// Writes the parts outside the layers of `model` (whose `layers` were handed over
    /// already, or are handed over now when they are all loaded), the index and the config.
    /// With `source`, the tokenizer comes along: the source folder's `tokenizer.json` is
    /// copied; a GGUF source is named in `intraslice_tokenizer_source`.
    public func finish(_ model: TransformerModel, derivedFrom source: LoadedModel? = nil) throws {
        if specs.isEmpty, model.layers.allSatisfy({ !$0.isUnloaded }) { try model.layers.forEach(add(layer:)) }
        guard specs.count == model.layers.count else {
            throw ModelFileError(path: folder, message: "\(specs.count) of the model's \(model.layers.count) layers were written")
        }
        var config = model.config
        if let source { config.tokenizerSource = try copyTokenizer(of: source, current: config.tokenizerSource) }
        let names = family.huggingFace
        try tensors.append(TensorNames.weight(names.embedding), shape: [model.embedding.rows, model.embedding.cols], values: model.embedding.elements)
        try tensors.append(TensorNames.weight(names.finalNorm), shape: [model.finalNorm.count], values: model.finalNorm)
        if let head = model.lmHead { try tensors.append(TensorNames.weight(names.lmHead), shape: [head.rows, head.cols], values: head.elements) }
        try tensors.finish()

        config.numHiddenLayers = specs.count
        config.tieWordEmbeddings = model.lmHead == nil
        config.rmsNormDivisor = model.residualNormDivisor
        config.normsIncludeOffset = family.storedNormOffset != 0 ? true : nil
        config.prunedLayers = specs
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let configPath = (folder as NSString).appendingPathComponent("config.json")
        do { try encoder.encode(config).write(to: URL(fileURLWithPath: configPath), options: .atomic) } catch {
            throw ModelFileError(path: configPath, message: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Writes `model` (derived from `source`, whose tokenizer comes along) in one go.
    public static func write(_ model: TransformerModel, derivedFrom source: LoadedModel, to folder: String,
                             metadata: [String: String] = [:]) throws {
        try HFCheckpointWriter(folder: folder, family: model.architecture, metadata: metadata).finish(model, derivedFrom: source)
    }

    public static func write(_ model: TransformerModel, to folder: String, metadata: [String: String] = [:]) throws {
        try HFCheckpointWriter(folder: folder, family: model.architecture, metadata: metadata).finish(model)
    }

    /// The source folder's `tokenizer.json` copied beside the weights (nil returned), or the
    /// name of the model the tokenizer comes from: a registry name stays a name (the cache
    /// may move); a file path is made absolute.
    private func copyTokenizer(of source: LoadedModel, current: String?) throws -> String? {
        let sourceTokenizer = URL(fileURLWithPath: source.path).appendingPathComponent("tokenizer.json")
        let destination = URL(fileURLWithPath: folder).appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: sourceTokenizer.path) else {
            return current ?? (source.name == source.path ? URL(fileURLWithPath: source.path).standardizedFileURL.path : source.name)
        }
        do { try FileManager.default.copyItem(at: sourceTokenizer, to: destination) } catch {
            throw ModelFileError(path: destination.path, message: "cannot copy the tokenizer: \(error.localizedDescription)")
        }
        return nil
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
}
