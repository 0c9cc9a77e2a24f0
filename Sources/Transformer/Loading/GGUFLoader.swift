import Foundation
import LinAlg
import ModelIO

/// Builds a `TransformerModel` from a GGUF checkpoint: translates llama.cpp's metadata
/// into a `ModelConfig`, reads the tensors under the family's GGUF names, dequantizes to Float32 and
/// undoes the Q/K row permutation of `llama` files so every architecture shares one
/// RoPE convention.
public enum GGUFLoader {
    public static func load(_ file: GGUFFile) throws -> TransformerModel { try open(file, streamed: false).model }

    /// The model, resident or streamed: streamed, its layers stay in the mapped file
    /// (quantized) and `layers` dequantizes one at a time.
    public static func open(_ file: GGUFFile, streamed: Bool) throws -> (model: TransformerModel, layers: StreamedLayers?) {
        let (config, family, layout) = try configuration(file)
        let names = layout.names, heads = config.numAttentionHeads
        let weights = GGUFWeights(file: file, loaded: LoadedTensors(source: file.path))
        let reader = LayerReader(names: names, tensors: weights, normOffset: 0)
        let ropeFactors = try layout.ropeFactors.flatMap { try weights.optionalVector(TensorNames.weight($0)) }
        let assembly = ModelAssembly(config: config, family: family, ropeFactors: ropeFactors, source: file.path)
        let vocabulary = {
            VocabularyMatrices(embedding: try weights.matrix(TensorNames.weight(names.embedding)),
                               lmHead: try weights.optionalMatrix(TensorNames.weight(names.lmHead)))
        }
        let (embedding, lmHead) = try vocabulary().parts
        let finalNorm = try reader.norm(names.finalNorm)
        let layer = { (index: Int) throws -> LayerTensors in
            // GGUF stores every projection separately, so no row counts are needed.
            var t = try reader.read(index, queryKeyValueRows: [], gateUpRows: [])
            if layout.interleavesRotaryRows {
                t.wq = unpermuteRotaryRows(t.wq, heads: heads)
                t.wk = unpermuteRotaryRows(t.wk, heads: config.numKeyValueHeads)
                t.bq = t.bq.map { unpermuteRotaryRows(Matrix(rows: $0.count, cols: 1, elements: $0), heads: heads).elements }
                t.bk = t.bk.map { unpermuteRotaryRows(Matrix(rows: $0.count, cols: 1, elements: $0), heads: config.numKeyValueHeads).elements }
            }
            return t
        }
        if streamed {
            file.releasePages()
            let (model, layers) = try assembly.buildStreamed(embedding: embedding, finalNorm: finalNorm, lmHead: lmHead, layer: layer,
                                                             vocabulary: vocabulary, releasePages: file.releasePages)
            try weights.loaded.checkAllUsed(stored: file.tensors.map(\.name))
            return (model, layers)
        }
        // Pages of converted layers are dropped as the load goes: the mapped file and the
        // Float32 model are never both resident.
        let model = try assembly.build(embedding: embedding, finalNorm: finalNorm, lmHead: lmHead,
                                       layer: { defer { file.releasePages() }; return try layer($0) })
        try weights.loaded.checkAllUsed(stored: file.tensors.map(\.name))
        return (model, nil)
    }

    /// The `ModelConfig` llama.cpp's metadata describes (validated), with the family and its
    /// GGUF layout; no tensor is read.
    public static func configuration(_ file: GGUFFile) throws -> (config: ModelConfig, family: ArchitectureFamily, layout: GGUFLayout) {
        let archName = file.architecture ?? ""
        guard let family = ArchitectureFamily(ggufArchitecture: archName), let layout = family.gguf else {
            let readable = ArchitectureFamily.all.compactMap(\.gguf?.architecture).joined(separator: ", ")
            let others = ArchitectureFamily.all.filter { $0.gguf == nil }.map(\.name).joined(separator: ", ")
            throw ModelFileError(path: file.path, message: "unsupported architecture '\(archName)' (GGUF: \(readable); "
                                 + "\(others) load from HuggingFace safetensors)")
        }
        let meta = Metadata(file: file, prefix: archName)
        try meta.checkKnownKeys()
        let hidden = try meta.int("embedding_length")
        let heads = try meta.int("attention.head_count")
        guard hidden > 0, heads > 0 else {
            throw ModelFileError(path: file.path, message: "\(archName).embedding_length (\(hidden)) and \(archName).attention.head_count (\(heads)) must be positive")
        }
        let headDim = try meta.optionalInt("attention.key_length") ?? hidden / heads
        // The forward pass rotates whole heads and gives values the key head size.
        for key in ["attention.value_length", "rope.dimension_count"] {
            if let value = try meta.optionalInt(key), value != headDim {
                throw ModelFileError(path: file.path, message: "\(archName).\(key) is \(value), the head size \(headDim); "
                                     + "partial rotary embeddings and value heads of another size are not supported")
            }
        }
        let names = layout.names
        let vocabulary = file.tensor(named: TensorNames.weight(names.embedding))?.shape.first ?? 0
        if let stated = try meta.optionalInt("vocab_size"), stated != vocabulary {
            throw ModelFileError(path: file.path, message: "\(archName).vocab_size is \(stated), \(TensorNames.weight(names.embedding)) has \(vocabulary) rows")
        }
        var config = ModelConfig(
            modelType: archName, hiddenSize: hidden, intermediateSize: try meta.int("feed_forward_length"),
            numHiddenLayers: try meta.int("block_count"), numAttentionHeads: heads,
            numKeyValueHeads: try meta.optionalInt("attention.head_count_kv") ?? heads, headDim: headDim,
            vocabSize: vocabulary,
            rmsNormEps: try meta.double("attention.layer_norm_rms_epsilon"),
            ropeTheta: try meta.optionalDouble("rope.freq_base") ?? 10_000,
            tieWordEmbeddings: file.tensor(named: TensorNames.weight(names.lmHead)) == nil,
            maxPositionEmbeddings: try meta.optionalInt("context_length"))
        if let kind = try meta.optionalString("rope.scaling.type"), kind != "none" {
            config.ropeScaling = RopeScaling(ropeType: kind, factor: try meta.optionalDouble("rope.scaling.factor"))
        }
        // llama.cpp's conventions, which its metadata does not repeat (gemma3: every sixth
        // layer is global, queries scale by 1/√head_dim).
        if let pattern = layout.slidingWindowPattern {
            config.slidingWindow = try meta.optionalInt("attention.sliding_window")
            config.slidingWindowPattern = pattern
        }
        if layout.queryScaleIsHeadDim { config.queryPreAttnScalar = Double(headDim) }
        try config.validate(source: file.path)
        return (config, family, layout)
    }

    /// llama.cpp's converter reorders each head's rows of Wq and Wk from HuggingFace's
    /// half-split layout (row h·d/2 + i for half h) to interleaved pairs (row 2i + h).
    /// This puts them back.
    static func unpermuteRotaryRows(_ w: Matrix<Float>, heads: Int) -> Matrix<Float> {
        // A row count that is not whole heads of pairs is left as it is: the shape check
        // after assembly refuses it with the config's numbers.
        guard heads > 0, w.rows % heads == 0, (w.rows / heads) % 2 == 0 else { return w }
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
    /// A key that is present must have the right type: one that does not is an error,
    /// never a silent fall-back to the default.
    func optionalInt(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue else { throw wrongType(key, "an integer") }
        return i
    }

    /// The `<arch>.*` keys this loader reads or knows to be harmless. Any other key in the
    /// architecture's namespace is refused: a renamed or unknown key (say a misspelt
    /// `rope.freq_base`, or `expert_count` of a mixture of experts) would otherwise leave
    /// a default in place and give plausible wrong numbers.
    static let knownKeys: Set<String> = [
        "context_length", "embedding_length", "block_count", "feed_forward_length", "vocab_size",
        "attention.head_count", "attention.head_count_kv", "attention.key_length", "attention.value_length",
        "attention.layer_norm_rms_epsilon", "attention.sliding_window",
        "rope.freq_base", "rope.dimension_count", "rope.scaling.type", "rope.scaling.factor",
        "rope.scaling.original_context_length", "rope.scaling.finetuned",
    ]

    func checkKnownKeys() throws {
        let namespace = prefix + "."
        for key in file.metadata.keys.sorted() where key.hasPrefix(namespace) {
            let local = String(key.dropFirst(namespace.count))
            guard Self.knownKeys.contains(local) else {
                throw ModelFileError(path: file.path, message: "unknown metadata key '\(key)'; the loader reads only "
                                     + Self.knownKeys.sorted().map { namespace + $0 }.joined(separator: ", "))
            }
        }
    }
    func optionalDouble(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.doubleValue else { throw wrongType(key, "a number") }
        return d
    }
    func optionalString(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.stringValue else { throw wrongType(key, "a string") }
        return s
    }

    private func wrongType(_ key: String, _ expected: String) -> ModelFileError {
        ModelFileError(path: file.path, message: "metadata key '\(prefix).\(key)' is not \(expected)")
    }

    private func missing(_ key: String) -> ModelFileError {
        ModelFileError(path: file.path, message: "metadata key '\(prefix).\(key)' is missing or not a number")
    }
}

/// Dequantized tensors of a GGUF file by llama.cpp name.
private struct GGUFWeights: TensorSource {
    let file: GGUFFile
    let loaded: LoadedTensors

    var path: String { file.path }

    func optionalMatrix(_ name: String) throws -> Matrix<Float>? {
        guard let info = file.tensor(named: name) else { return nil }
        let shape = info.shape
        guard shape.count == 2 else {
            throw ModelFileError(path: file.path, message: "tensor \(name) has shape \(shape), expected a matrix")
        }
        return Matrix(rows: shape[0], cols: shape[1], elements: try loaded.accept(try file.dequantize(info), name: name))
    }

    func optionalVector(_ name: String) throws -> [Float]? {
        guard let info = file.tensor(named: name) else { return nil }
        guard info.shape.count == 1 else {
            throw ModelFileError(path: file.path, message: "tensor \(name) has shape \(info.shape), expected a vector")
        }
        return try loaded.accept(try file.dequantize(info), name: name)
    }
}
