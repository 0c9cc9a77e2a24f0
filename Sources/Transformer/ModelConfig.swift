/// The model's hyper-parameters under HuggingFace `config.json` field names, so a
/// checkpoint folder's config decodes directly; GGUF metadata is translated into the
/// same struct by the loader. Per-layer shapes of pruned models are not here: they come
/// from the weights (and `LayerShape`s written beside a pruned checkpoint).
public struct ModelConfig: Codable, Sendable, Equatable {
    public var modelType: String
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int?
    public var vocabSize: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    public var ropeScaling: RopeScaling?
    public var tieWordEmbeddings: Bool?
    public var maxPositionEmbeddings: Int?
    public var attentionBias: Bool?
    /// Gemma 3: sliding-window size, how often a global layer comes, the local RoPE base,
    /// the attention scale's denominator and the activation.
    public var slidingWindow: Int?
    public var slidingWindowPattern: Int?
    public var layerTypes: [String]?
    public var ropeLocalBaseFreq: Double?
    public var queryPreAttnScalar: Double?
    public var hiddenActivation: String?
    public var hiddenAct: String?
    /// Pruned checkpoints written by this harness: each layer's own shape, and SliceGPT's
    /// RMSNorm divisor (the original hidden size). Absent in ordinary checkpoints.
    public var prunedLayers: [PrunedLayerSpec]?
    public var rmsNormDivisor: Int?
    /// Norm weights stored exactly as the forward pass uses them (Gemma's 1 already added),
    /// so that writing and reloading a checkpoint gives bit-identical weights.
    public var normsIncludeOffset: Bool?
    /// Where a folder without `tokenizer.json` takes its tokenizer from: the registry name or
    /// path of the model it was pruned from (a GGUF carries its tokenizer inside).
    public var tokenizerSource: String?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", headDim = "head_dim", vocabSize = "vocab_size"
        case rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta", ropeScaling = "rope_scaling"
        case tieWordEmbeddings = "tie_word_embeddings", maxPositionEmbeddings = "max_position_embeddings"
        case attentionBias = "attention_bias", slidingWindow = "sliding_window"
        case slidingWindowPattern = "sliding_window_pattern", layerTypes = "layer_types"
        case ropeLocalBaseFreq = "rope_local_base_freq", queryPreAttnScalar = "query_pre_attn_scalar"
        case hiddenActivation = "hidden_activation", hiddenAct = "hidden_act"
        case prunedLayers = "intraslice_pruned_layers", rmsNormDivisor = "rms_norm_divisor"
        case normsIncludeOffset = "intraslice_norms_include_offset", tokenizerSource = "intraslice_tokenizer_source"
    }

    public init(modelType: String, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
                numAttentionHeads: Int, numKeyValueHeads: Int, headDim: Int? = nil, vocabSize: Int,
                rmsNormEps: Double, ropeTheta: Double, ropeScaling: RopeScaling? = nil,
                tieWordEmbeddings: Bool? = nil, maxPositionEmbeddings: Int? = nil) {
        self.modelType = modelType
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads
        self.headDim = headDim
        self.vocabSize = vocabSize
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.tieWordEmbeddings = tieWordEmbeddings
        self.maxPositionEmbeddings = maxPositionEmbeddings
    }

    public var architecture: Architecture? { Architecture(modelType: modelType) }
    public var resolvedHeadDim: Int { headDim ?? hiddenSize / numAttentionHeads }

    /// Whether layer `index` uses sliding-window attention (Gemma 3: all but every
    /// `slidingWindowPattern`-th layer, unless `layer_types` says otherwise).
    public func isSlidingLayer(_ index: Int) -> Bool {
        guard slidingWindow != nil else { return false }
        if let layerTypes, index < layerTypes.count { return layerTypes[index] == "sliding_attention" }
        guard let pattern = slidingWindowPattern, pattern > 0 else { return false }
        return (index + 1) % pattern != 0
    }
}

/// The shape of one layer of a pruned checkpoint, beyond what the weight shapes say.
public struct PrunedLayerSpec: Codable, Sendable, Equatable {
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var kvHeadOfQueryHead: [Int]
    public var qkHeadDim: Int
    public var vHeadDim: Int
    /// One inverse frequency per rotary pair a query/key head kept (gathered from the
    /// unpruned head's, stored exactly so no table has to be recomputed or matched); one
    /// such list per KV head, concatenated, when the KV groups kept different pairs.
    public var ropeInverseFrequencies: [Float]
    /// The softmax scale (pruning keeps the unpruned head's).
    public var attentionScale: Float
    public var intermediateSize: Int

    enum CodingKeys: String, CodingKey {
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads"
        case kvHeadOfQueryHead = "kv_head_of_query_head", qkHeadDim = "qk_head_dim", vHeadDim = "v_head_dim"
        case ropeInverseFrequencies = "rope_inverse_frequencies", attentionScale = "attention_scale"
        case intermediateSize = "intermediate_size"
    }

    public init(numAttentionHeads: Int, numKeyValueHeads: Int, kvHeadOfQueryHead: [Int], qkHeadDim: Int, vHeadDim: Int,
                ropeInverseFrequencies: [Float], attentionScale: Float, intermediateSize: Int) {
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads
        self.kvHeadOfQueryHead = kvHeadOfQueryHead
        self.qkHeadDim = qkHeadDim
        self.vHeadDim = vHeadDim
        self.ropeInverseFrequencies = ropeInverseFrequencies
        self.attentionScale = attentionScale
        self.intermediateSize = intermediateSize
    }
}

/// `rope_scaling` of a HuggingFace config; `llama3` is the scaling Llama-3.1/3.2 use.
public struct RopeScaling: Codable, Sendable, Equatable {
    public var ropeType: String?
    public var type: String?
    public var factor: Double?
    public var lowFreqFactor: Double?
    public var highFreqFactor: Double?
    public var originalMaxPositionEmbeddings: Int?

    enum CodingKeys: String, CodingKey {
        case ropeType = "rope_type", type, factor, lowFreqFactor = "low_freq_factor"
        case highFreqFactor = "high_freq_factor", originalMaxPositionEmbeddings = "original_max_position_embeddings"
    }

    public init(ropeType: String?, factor: Double?, lowFreqFactor: Double? = nil, highFreqFactor: Double? = nil,
                originalMaxPositionEmbeddings: Int? = nil) {
        self.ropeType = ropeType
        self.factor = factor
        self.lowFreqFactor = lowFreqFactor
        self.highFreqFactor = highFreqFactor
        self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
    }

    public var kind: String { ropeType ?? type ?? "default" }
}

/// The architectures the forward pass implements.
public enum Architecture: String, Sendable, CaseIterable {
    case llama, qwen2, gemma3, phi3

    public init?(modelType: String) {
        switch modelType {
        case "llama", "mistral": self = .llama
        case "qwen2": self = .qwen2
        case "gemma3", "gemma3_text": self = .gemma3
        case "phi3": self = .phi3
        default: return nil
        }
    }
}
