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

/// A tensor of a synthetic checkpoint, under its family's HuggingFace name.
struct SyntheticTensor {
    enum Kind { case weight, norm }
    let name: String
    let shape: [Int]
    let kind: Kind

    var elementCount: Int { shape.reduce(1, *) }

    /// A checkpoint's tensors under its family's HuggingFace names (`ArchitectureFamily`),
    /// in the order HuggingFace saves them: separate or fused projections as the family
    /// stacks them, q/k/v biases where the family stores them, its norms.
    static func all(_ config: ModelConfig) -> [SyntheticTensor] {
        let d = config.hiddenSize, f = config.intermediateSize, head = config.resolvedHeadDim
        let q = config.numAttentionHeads * head, kv = config.numKeyValueHeads * head
        let family = config.architecture!, names = family.huggingFace, layerNames = names.layer
        var tensors = [SyntheticTensor(name: TensorNames.weight(names.embedding), shape: [config.vocabSize, d], kind: .weight)]
        for layer in 0..<config.numHiddenLayers {
            func module(_ name: String) -> String { names.layerModule(layer, name) }
            func weight(_ name: String, _ shape: [Int]) -> SyntheticTensor { SyntheticTensor(name: TensorNames.weight(module(name)), shape: shape, kind: .weight) }
            func stacked(_ stacking: Stacking, rows: [Int], biases: Bool) {
                switch stacking {
                case .fused(let name):
                    tensors.append(weight(name, [rows.reduce(0, +), d]))
                    if biases { tensors.append(SyntheticTensor(name: TensorNames.bias(module(name)), shape: [rows.reduce(0, +)], kind: .weight)) }
                case .separate(let parts):
                    for (name, count) in zip(parts, rows) {
                        tensors.append(weight(name, [count, d]))
                        if biases { tensors.append(SyntheticTensor(name: TensorNames.bias(module(name)), shape: [count], kind: .weight)) }
                    }
                }
            }
            stacked(layerNames.queryKeyValue, rows: [q, kv, kv], biases: family.attentionBiases)
            tensors.append(weight(layerNames.attentionOutput, [d, q]))
            stacked(layerNames.gateUp, rows: [f, f], biases: false)
            tensors.append(weight(layerNames.down, [d, f]))
            for norm in [layerNames.attentionNorm, layerNames.mlpNorm] + [layerNames.postAttentionNorm, layerNames.postMLPNorm].compactMap({ $0 }) {
                tensors.append(SyntheticTensor(name: TensorNames.weight(module(norm)), shape: [d], kind: .norm))
            }
            for norm in [layerNames.queryNorm, layerNames.keyNorm].compactMap({ $0 }) {
                tensors.append(SyntheticTensor(name: TensorNames.weight(module(norm)), shape: [head], kind: .norm))
            }
        }
        tensors.append(SyntheticTensor(name: TensorNames.weight(names.finalNorm), shape: [d], kind: .norm))
        if config.tieWordEmbeddings == false {
            tensors.append(SyntheticTensor(name: TensorNames.weight(names.lmHead), shape: [config.vocabSize, d], kind: .weight))
        }
        return tensors
    }
}
