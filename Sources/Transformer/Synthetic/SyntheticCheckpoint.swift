import Foundation
import H5Store
import ModelIO

/// What `SyntheticCheckpoint.write` makes.
public struct SyntheticCheckpointOptions: Sendable {
    public var shape: SyntheticShape
    /// F32, F16 or BF16.
    public var dtype: SafetensorsDType
    public var seed: UInt64
    /// The first `layers` layers of the shape (1 … the real count); nil: all.
    public var layers: Int?
    /// A registry model or a path: its tokenizer, and so the vocabulary size.
    public var tokenizer: String
    public var maxShardBytes: Int

    public init(shape: SyntheticShape, dtype: SafetensorsDType = .bf16, seed: UInt64 = 0, layers: Int? = nil,
                tokenizer: String = "smollm2-135m", maxShardBytes: Int = ShardedSafetensorsWriter.defaultMaxShardBytes) {
        self.shape = shape
        self.dtype = dtype
        self.seed = seed
        self.layers = layers
        self.tokenizer = tokenizer
        self.maxShardBytes = maxShardBytes
    }
}

/// A random-weight checkpoint with a real model's shapes and `config.json`, in
/// HuggingFace's sharded safetensors layout under HuggingFace's tensor names, with a real
/// tokenizer (named in `intraslice_tokenizer_source`; the vocabulary is the tokenizer's,
/// so the embedding and head follow it and everything else is the real shape).
///
/// Weights are generated, converted and written one chunk at a time, so memory stays a
/// few MB even for 13B. Matrices and biases are N(0, 0.02²), HuggingFace's
/// `initializer_range`, and norm weights 1: pre-norm keeps every layer's input at unit
/// RMS, so activations stay finite through all layers, and the logits' spread (0.02·√D)
/// gives a perplexity of the order of the vocabulary size. The same options give
/// bit-identical files (with the same C library, whose `logf`/`sinf`/`cosf` the normal
/// draws use).
public enum SyntheticCheckpoint {
    static let weightStd = 0.02
    static let normValue = 1.0
    static let generatorDescription = "SplitMix64 per tensor name and block of \(SeededNormals.blockElements) values, Box-Muller in Float32"

    /// Writes the checkpoint into `folder`, which exists and is empty (the folder
    /// `OutputFolder.assemble` gives); `progress(done, total)` counts weight bytes.
    @discardableResult
    public static func write(_ options: SyntheticCheckpointOptions, to folder: String,
                             progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> SyntheticRecord {
        let shape = options.shape
        let layers = options.layers ?? shape.config.numHiddenLayers
        precondition((1...shape.config.numHiddenLayers).contains(layers), "the caller checks the layer count")
        let tokenizer = try ModelLoader.tokenizer(options.tokenizer)
        // A registry name stays a name (the cache may move); a path is made absolute.
        let resolved = try AssetRegistry.resolve(options.tokenizer, kind: .model)
        let tokenizerSource = resolved.asset?.id ?? URL(fileURLWithPath: resolved.path).standardizedFileURL.path

        var config = shape.config
        config.numHiddenLayers = layers
        config.vocabSize = tokenizer.vocabularySize
        config.tokenizerSource = tokenizerSource
        var fields = shape.fields
        fields.torchDtype = torchName(options.dtype)
        fields.bosTokenId = tokenizer.bos.map(Int.init)
        fields.eosTokenId = tokenizer.eos.map(Int.init)

        let tensors = SyntheticTensor.all(config)
        let elements = tensors.reduce(0) { $0 + $1.elementCount }
        let total = elements * options.dtype.byteSize
        let writer = try ShardedSafetensorsWriter(folder: folder, dtype: options.dtype, maxShardBytes: options.maxShardBytes)
        var done = 0
        for tensor in tensors {
            let normals = SeededNormals(seed: options.seed, name: tensor.name)
            try writer.append(tensor.name, shape: tensor.shape) { range, chunk in
                if tensor.kind == .norm {
                    chunk.update(repeating: Float(normValue))
                } else {
                    normals.fill(range, std: Float(weightStd), into: chunk)
                }
                progress(done + range.upperBound * options.dtype.byteSize, total)
            }
            done += tensor.elementCount * options.dtype.byteSize
        }
        let files = try writer.finish()

        let record = SyntheticRecord(
            shape: shape.name, referenceModel: shape.reference, referenceNumHiddenLayers: shape.config.numHiddenLayers,
            referenceVocabSize: shape.config.vocabSize, numHiddenLayers: layers, vocabSize: config.vocabSize,
            tokenizerSource: tokenizerSource, dtype: options.dtype.rawValue, seed: options.seed, weightStd: weightStd,
            normValue: normValue, generator: generatorDescription, parameters: elements, totalSize: files.totalSize,
            maxShardSize: options.maxShardBytes, shards: files.shards, harnessVersion: HarnessVersion.current)
        try writeJSON(HFConfigFile(config: config, fields: fields), to: (folder as NSString).appendingPathComponent("config.json"))
        try writeJSON(record, to: (folder as NSString).appendingPathComponent("synth.json"))
        return record
    }

    /// The `torch_dtype` HuggingFace writes for a stored type.
    static func torchName(_ dtype: SafetensorsDType) -> String {
        switch dtype {
        case .bf16: return "bfloat16"
        case .f16: return "float16"
        default: return "float32"
        }
    }

    private static func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do { try encoder.encode(value).write(to: URL(fileURLWithPath: path)) } catch {
            throw ModelFileError(path: path, message: "cannot write: \(error.localizedDescription)")
        }
    }
}

/// A tensor of a synthetic checkpoint, under its HuggingFace name.
///
/// The names are listed here, in the one place `synth` keeps them, until the per-family
/// architecture descriptions hold the HuggingFace name tables the loaders and writers
/// share; then this list should come from them.
struct SyntheticTensor {
    enum Kind { case weight, norm }
    let name: String
    let shape: [Int]
    let kind: Kind

    var elementCount: Int { shape.reduce(1, *) }

    /// A llama, qwen2 or phi3 checkpoint's tensors in the order HuggingFace saves them:
    /// Qwen2 has q/k/v biases, Phi-3 fused `qkv_proj` and `gate_up_proj`.
    static func all(_ config: ModelConfig) -> [SyntheticTensor] {
        let d = config.hiddenSize, f = config.intermediateSize, head = config.resolvedHeadDim
        let q = config.numAttentionHeads * head, kv = config.numKeyValueHeads * head
        var tensors = [SyntheticTensor(name: "model.embed_tokens.weight", shape: [config.vocabSize, d], kind: .weight)]
        for layer in 0..<config.numHiddenLayers {
            let p = "model.layers.\(layer)."
            func weight(_ name: String, _ shape: [Int]) -> SyntheticTensor { SyntheticTensor(name: p + name, shape: shape, kind: .weight) }
            if config.architecture == .phi3 {
                tensors.append(weight("self_attn.qkv_proj.weight", [q + 2 * kv, d]))
            } else {
                for (name, rows) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
                    tensors.append(weight("self_attn.\(name).weight", [rows, d]))
                    if config.architecture == .qwen2 { tensors.append(weight("self_attn.\(name).bias", [rows])) }
                }
            }
            tensors.append(weight("self_attn.o_proj.weight", [d, q]))
            if config.architecture == .phi3 {
                tensors.append(weight("mlp.gate_up_proj.weight", [2 * f, d]))
            } else {
                tensors += [weight("mlp.gate_proj.weight", [f, d]), weight("mlp.up_proj.weight", [f, d])]
            }
            tensors.append(weight("mlp.down_proj.weight", [d, f]))
            for norm in ["input_layernorm.weight", "post_attention_layernorm.weight"] {
                tensors.append(SyntheticTensor(name: p + norm, shape: [d], kind: .norm))
            }
        }
        tensors.append(SyntheticTensor(name: "model.norm.weight", shape: [d], kind: .norm))
        if config.tieWordEmbeddings == false {
            tensors.append(SyntheticTensor(name: "lm_head.weight", shape: [config.vocabSize, d], kind: .weight))
        }
        return tensors
    }
}
