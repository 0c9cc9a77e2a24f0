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
    /// The RoPE base and scaling as configs before transformers 5 state them (and the
    /// published checkpoints do); transformers 5 writes `rope_parameters` instead. Read
    /// them through `rope(slidingLayer:)`.
    public var ropeTheta: Double?
    public var ropeScaling: RopeScaling?
    public var ropeParameters: RopeParameters?
    /// Phi-3 keeps LongRoPE's pre-training length here rather than in `rope_scaling`.
    public var originalMaxPositionEmbeddings: Int?
    /// Only 1 (every head dimension rotates) is implemented.
    public var partialRotaryFactor: Double?
    public var tieWordEmbeddings: Bool?
    public var maxPositionEmbeddings: Int?
    public var attentionBias: Bool?
    /// Which layers slide over how many positions: the family's `SlidingWindowRule` reads
    /// `layer_types`, Gemma 3's `sliding_window_pattern` or Qwen2's `use_sliding_window`
    /// and `max_window_layers`.
    public var slidingWindow: Int?
    public var slidingWindowPattern: Int?
    public var layerTypes: [String]?
    public var useSlidingWindow: Bool?
    public var maxWindowLayers: Int?
    /// Gemma 3: the local RoPE base, the attention scale's denominator and the activation.
    public var ropeLocalBaseFreq: Double?
    public var queryPreAttnScalar: Double?
    public var hiddenActivation: String?
    public var hiddenAct: String?
    /// Gemma variants the forward pass does not implement (soft-capped scores, attention
    /// in both directions); read only to refuse them.
    public var finalLogitSoftcapping: Double?
    public var attnLogitSoftcapping: Double?
    public var useBidirectionalAttention: Bool?
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
        case ropeParameters = "rope_parameters", originalMaxPositionEmbeddings = "original_max_position_embeddings"
        case partialRotaryFactor = "partial_rotary_factor"
        case tieWordEmbeddings = "tie_word_embeddings", maxPositionEmbeddings = "max_position_embeddings"
        case attentionBias = "attention_bias", slidingWindow = "sliding_window"
        case slidingWindowPattern = "sliding_window_pattern", layerTypes = "layer_types"
        case useSlidingWindow = "use_sliding_window", maxWindowLayers = "max_window_layers"
        case ropeLocalBaseFreq = "rope_local_base_freq", queryPreAttnScalar = "query_pre_attn_scalar"
        case hiddenActivation = "hidden_activation", hiddenAct = "hidden_act"
        case finalLogitSoftcapping = "final_logit_softcapping", attnLogitSoftcapping = "attn_logit_softcapping"
        case useBidirectionalAttention = "use_bidirectional_attention"
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

    public var architecture: ArchitectureFamily? { ArchitectureFamily(modelType: modelType) }
    public var resolvedHeadDim: Int { headDim ?? hiddenSize / numAttentionHeads }

    /// Whether layer `index` uses sliding-window attention, by the family's rule.
    public func isSlidingLayer(_ index: Int) -> Bool {
        guard slidingWindow != nil, let rule = architecture?.slidingWindow else { return false }
        func listed() -> Bool? {
            guard let layerTypes, index < layerTypes.count else { return nil }
            return layerTypes[index] == "sliding_attention"
        }
        switch rule {
        case .never:
            return false
        case .everyLayer:
            return true
        case .alternating(let defaultPattern):
            let pattern = slidingWindowPattern ?? defaultPattern
            return listed() ?? (pattern > 0 && (index + 1) % pattern != 0)
        case .fromLayer(let defaultFirst):
            return listed() ?? (useSlidingWindow == true && index >= (maxWindowLayers ?? defaultFirst))
        }
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
