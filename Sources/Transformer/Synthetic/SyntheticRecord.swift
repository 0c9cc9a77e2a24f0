/// `synth.json`: how a synthetic checkpoint was made, beside its weights. Its
/// `intraslice_synth_version` key also marks the folder as one intraslice wrote, which
/// `--overwrite` may replace (`OutputFolder`).
public struct SyntheticRecord: Codable, Equatable, Sendable {
    public var intrasliceSynthVersion = 1
    /// `--shape`, and the real model it is the shape of.
    public var shape: String
    public var referenceModel: String
    public var referenceNumHiddenLayers: Int
    public var referenceVocabSize: Int
    /// What was written: layers (`--layers`, or the reference's), vocabulary (the tokenizer's).
    public var numHiddenLayers: Int
    public var vocabSize: Int
    /// The model the tokenizer comes from (also `intraslice_tokenizer_source` in config.json).
    public var tokenizerSource: String
    public var dtype: String
    public var seed: UInt64
    /// Matrices and biases are N(0, weight_std²); norm weights are `norm_value`.
    public var weightStd: Double
    public var normValue: Double
    public var generator: String
    public var parameters: Int
    /// The weights' data bytes, the shard size limit and the shard files.
    public var totalSize: Int
    public var maxShardSize: Int
    public var shards: [String]
    public var harnessVersion: String

    enum CodingKeys: String, CodingKey {
        case intrasliceSynthVersion = "intraslice_synth_version", shape, referenceModel = "reference_model"
        case referenceNumHiddenLayers = "reference_num_hidden_layers", referenceVocabSize = "reference_vocab_size"
        case numHiddenLayers = "num_hidden_layers", vocabSize = "vocab_size", tokenizerSource = "tokenizer_source", dtype, seed
        case weightStd = "weight_std", normValue = "norm_value", generator, parameters, totalSize = "total_size"
        case maxShardSize = "max_shard_size", shards, harnessVersion = "harness_version"
    }
}
