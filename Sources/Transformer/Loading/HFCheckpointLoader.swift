import Foundation
import LinAlg
import ModelIO

/// Builds a `TransformerModel` from a HuggingFace checkpoint folder: `config.json` plus
/// `model.safetensors` (or shards listed in `model.safetensors.index.json`), in F32, F16
/// or BF16. Tensor names and norm conventions are the family's (`ArchitectureFamily`);
/// fused projections are split where each layer's shape says.
public enum HFCheckpointLoader {
    public static func load(folder: String) throws -> TransformerModel { try open(folder: folder, streamed: false).model }

    /// The model, resident or streamed: streamed, its layers stay in the mapped shards
    /// (bf16, fp16 or fp32) and `layers` converts one at a time.
    public static func open(folder: String, streamed: Bool) throws -> (model: TransformerModel, layers: StreamedLayers?) {
        let (config, family) = try describe(configPath: (folder as NSString).appendingPathComponent("config.json"))
        let checkpoint = try SafetensorsCheckpoint(folder: folder)
        let weights = HFWeights(checkpoint: checkpoint, path: folder, loaded: LoadedTensors(source: folder))
        // Gemma 3's multimodal checkpoints keep the text model under `language_model.`.
        var names = family.huggingFace
        if checkpoint.tensor(named: "language_model." + TensorNames.weight(names.embedding)) != nil {
            for keyPath in [\TensorNames.embedding, \.finalNorm, \.layers] { names[keyPath: keyPath] = "language_model." + names[keyPath: keyPath] }
        }
        let reader = LayerReader(names: names, tensors: weights,
                                 normOffset: config.normsIncludeOffset == true ? 0 : family.storedNormOffset)
        let headDim = config.resolvedHeadDim

        let vocabulary = { () throws -> VocabularyMatrices in
            let embedding = try weights.matrix(TensorNames.weight(names.embedding))
            return VocabularyMatrices(embedding: embedding, lmHead: try weights.lmHead(TensorNames.weight(names.lmHead),
                                                                                       tied: config.tieWordEmbeddings ?? true, embedding: embedding))
        }
        let (embedding, lmHead) = try vocabulary().parts
        let finalNorm = try reader.norm(names.finalNorm)
        let layer = { (index: Int) throws -> LayerTensors in
            // Fused tensors split where this layer's shape says (a pruned layer's own).
            let spec = config.prunedLayers?[index]
            let qkHeadDim = spec?.qkHeadDim ?? headDim, vHeadDim = spec?.vHeadDim ?? headDim
            let heads = spec?.numAttentionHeads ?? config.numAttentionHeads, kvHeads = spec?.numKeyValueHeads ?? config.numKeyValueHeads
            let ffn = spec?.intermediateSize ?? config.intermediateSize
            var tensors = try reader.read(index, queryKeyValueRows: [heads * qkHeadDim, kvHeads * qkHeadDim, kvHeads * vHeadDim],
                                          gateUpRows: [ffn, ffn])
            tensors.attentionShortcut = try weights.optionalMatrix(TensorNames.weight(names.layerModule(index, PrunedTensorNames.attentionShortcut)))
            tensors.mlpShortcut = try weights.optionalMatrix(TensorNames.weight(names.layerModule(index, PrunedTensorNames.mlpShortcut)))
            return tensors
        }
        let assembly = ModelAssembly(config: config, family: family, ropeFactors: nil, source: folder)
        if streamed {
            checkpoint.releasePages()
            let (model, layers) = try assembly.buildStreamed(embedding: embedding, finalNorm: finalNorm, lmHead: lmHead, layer: layer,
                                                             vocabulary: vocabulary, releasePages: checkpoint.releasePages)
            try weights.loaded.checkAllUsed(stored: checkpoint.tensorNames)
            return (model, layers)
        }
        // Pages of converted layers are dropped as the load goes: the mapped file and the
        // Float32 model are never both resident.
        let model = try assembly.build(embedding: embedding, finalNorm: finalNorm, lmHead: lmHead,
                                       layer: { defer { checkpoint.releasePages() }; return try layer($0) })
        try weights.loaded.checkAllUsed(stored: checkpoint.tensorNames)
        return (model, nil)
    }

    /// A folder's validated config, without its weights.
    public static func configuration(folder: String) throws -> ModelConfig {
        try describe(configPath: (folder as NSString).appendingPathComponent("config.json")).config
    }

    /// A `config.json` given alone (planning a run for a model not yet downloaded).
    public static func configuration(file: String) throws -> ModelConfig { try describe(configPath: file).config }

    private static func describe(configPath: String) throws -> (config: ModelConfig, family: ArchitectureFamily) {
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw ModelFileError(path: configPath, message: "missing: a checkpoint folder needs config.json")
        }
        let configData = try RegularFile.read(configPath)
        let config: ModelConfig
        do { config = try JSONDecoder().decode(ModelConfig.self, from: configData) } catch {
            throw ModelFileError(path: configPath, message: "not a usable HuggingFace config: \(describeDecodingFailure(error))")
        }
        guard let family = config.architecture else {
            let supported = ArchitectureFamily.all.flatMap(\.modelTypes).joined(separator: ", ")
            throw ModelFileError(path: configPath, message: "unsupported model_type '\(config.modelType)' (supported: \(supported))")
        }
        try config.validate(source: configPath)
        return (config, family)
    }
}

/// Tensors of a safetensors checkpoint by HuggingFace name, as Float32.
private struct HFWeights: TensorSource {
    let checkpoint: SafetensorsCheckpoint
    let path: String
    let loaded: LoadedTensors

    func optionalMatrix(_ name: String) throws -> Matrix<Float>? {
        guard let (_, info) = checkpoint.tensor(named: name) else { return nil }
        guard info.shape.count == 2 else {
            throw ModelFileError(path: path, message: "tensor \(name) has shape \(info.shape), expected a matrix")
        }
        return Matrix(rows: info.shape[0], cols: info.shape[1], elements: try loaded.accept(try checkpoint.floats(name), name: name))
    }

    func optionalVector(_ name: String) throws -> [Float]? {
        guard let (_, info) = checkpoint.tensor(named: name) else { return nil }
        guard info.shape.count == 1 else {
            throw ModelFileError(path: path, message: "tensor \(name) has shape \(info.shape), expected a vector")
        }
        return try loaded.accept(try checkpoint.floats(name), name: name)
    }

    /// The LM head, nil when it is the embedding. HuggingFace ties the two unless the config
    /// says `tie_word_embeddings: false`; a stored head that a tied config would discard is
    /// accepted only when it equals the embedding, and an untied config needs its head.
    func lmHead(_ name: String, tied: Bool, embedding: Matrix<Float>) throws -> Matrix<Float>? {
        let head = try optionalMatrix(name)
        if tied {
            guard head == nil || head! == embedding else {
                throw ModelFileError(path: path, message: "\(name) differs from the embedding, but the config ties them "
                                     + "(tie_word_embeddings is true or absent)")
            }
            return nil
        }
        guard let head else {
            throw ModelFileError(path: path, message: "tie_word_embeddings is false but \(name) is missing")
        }
        return head
    }
}
