/// What distinguishes one family of decoder-only transformers from another, in one value:
/// the `model_type`s that name it, where each tensor is stored in a HuggingFace folder and
/// in a GGUF file, and the conventions the forward pass follows (norm storage, activation,
/// embedding scale, which layers slide). The loaders, the writer and config validation read
/// everything family-specific from here; each family is one file in this folder.
///
/// What a compression method may do to a model is not stated here: it follows from the
/// model's structure (which norms it has), see `ArchitectureAdapter`.
public struct ArchitectureFamily: Sendable, Equatable, CustomStringConvertible {
    /// The family's short name (messages, logs).
    public let name: String
    /// `model_type` values of `config.json` this family reads.
    public let modelTypes: [String]
    public let huggingFace: TensorNames
    /// nil when the harness reads this family only from HuggingFace folders.
    public let gguf: GGUFLayout?
    /// Added to every norm weight of a HuggingFace checkpoint: Gemma stores w for a scale
    /// of 1 + w (GGUF files store the scale itself).
    public let storedNormOffset: Float
    public let activation: Activation
    /// The `hidden_act`/`hidden_activation` values that name `activation`.
    public let activationNames: [String]
    /// Embeddings are multiplied by √hidden_size on the way in (Gemma).
    public let scalesEmbedding: Bool
    public let slidingWindow: SlidingWindowRule
    /// RoPE base of sliding layers when the config names none (Gemma 3: 10⁴); nil when
    /// sliding layers rotate as the others do.
    public let localRopeBase: Double?
    /// Its checkpoints store biases on the query, key and value projections (Qwen2): what a
    /// new checkpoint of the family (`intraslice synth`) holds. Loaders read biases
    /// wherever they are stored.
    public let attentionBiases: Bool

    public init(name: String, modelTypes: [String], huggingFace: TensorNames, gguf: GGUFLayout?, storedNormOffset: Float = 0,
                activation: Activation, activationNames: [String], scalesEmbedding: Bool = false,
                slidingWindow: SlidingWindowRule, localRopeBase: Double? = nil, attentionBiases: Bool = false) {
        self.name = name
        self.modelTypes = modelTypes
        self.huggingFace = huggingFace
        self.gguf = gguf
        self.storedNormOffset = storedNormOffset
        self.activation = activation
        self.activationNames = activationNames
        self.scalesEmbedding = scalesEmbedding
        self.slidingWindow = slidingWindow
        self.localRopeBase = localRopeBase
        self.attentionBiases = attentionBiases
    }

    public var description: String { name }

    /// Every family the harness implements (a new family is listed here too).
    public static let all: [ArchitectureFamily] = [.llama, .mistral, .qwen2, .gemma3, .phi3]

    /// The family of a `config.json` `model_type`.
    public init?(modelType: String) {
        guard let family = Self.all.first(where: { $0.modelTypes.contains(modelType) }) else { return nil }
        self = family
    }

    /// The family a GGUF file's `general.architecture` names, if the harness reads it from GGUF.
    public init?(ggufArchitecture: String) {
        guard let family = Self.all.first(where: { $0.gguf?.architecture == ggufArchitecture }) else { return nil }
        self = family
    }
}

/// Which layers attend only to the last `sliding_window` positions.
public enum SlidingWindowRule: Sendable, Equatable {
    /// None: the family's attention has no window (transformers ignores a `sliding_window`
    /// key in such a config, and so does the harness).
    case never
    /// `sliding_window`, when set, limits every layer (Mistral, Phi-3).
    case everyLayer
    /// `layer_types` says which layers slide; without it every layer but each
    /// `sliding_window_pattern`-th (transformers' default pattern given here) slides (Gemma 3).
    case alternating(defaultPattern: Int)
    /// `layer_types`; without it, when `use_sliding_window` is true, the layers from
    /// `max_window_layers` on (transformers' default given here) slide (Qwen2).
    case fromLayer(defaultFirst: Int)
}

/// Where the parts of a model are stored, by tensor name without the `.weight`/`.bias`
/// suffix (the same module names carry both).
public struct TensorNames: Sendable, Equatable {
    public var embedding: String
    public var finalNorm: String
    public var lmHead: String
    /// Layer i's tensors are under `<layers>.<i>.`.
    public var layers: String
    public var layer: LayerTensorNames

    public init(embedding: String, finalNorm: String, lmHead: String, layers: String, layer: LayerTensorNames) {
        self.embedding = embedding
        self.finalNorm = finalNorm
        self.lmHead = lmHead
        self.layers = layers
        self.layer = layer
    }

    /// The full name of a module of layer `index`.
    public func layerModule(_ index: Int, _ module: String) -> String { "\(layers).\(index).\(module)" }

    public static func weight(_ module: String) -> String { module + ".weight" }
    public static func bias(_ module: String) -> String { module + ".bias" }
}

/// The modules of one decoder layer. An optional module is one the family does not have;
/// one it has must be stored.
public struct LayerTensorNames: Sendable, Equatable {
    public var attentionNorm: String
    /// Query, key and value projections, in that order.
    public var queryKeyValue: Stacking
    /// Per-head RMSNorms of queries and keys (Gemma 3).
    public var queryNorm: String?
    public var keyNorm: String?
    public var attentionOutput: String
    /// Normalises the attention output before it joins the residual stream (Gemma 3).
    public var postAttentionNorm: String?
    public var mlpNorm: String
    /// Gate and up projections, in that order.
    public var gateUp: Stacking
    public var down: String
    /// Normalises the MLP output before it joins the residual stream (Gemma 3).
    public var postMLPNorm: String?

    public init(attentionNorm: String, queryKeyValue: Stacking, queryNorm: String? = nil, keyNorm: String? = nil,
                attentionOutput: String, postAttentionNorm: String? = nil, mlpNorm: String, gateUp: Stacking, down: String,
                postMLPNorm: String? = nil) {
        self.attentionNorm = attentionNorm
        self.queryKeyValue = queryKeyValue
        self.queryNorm = queryNorm
        self.keyNorm = keyNorm
        self.attentionOutput = attentionOutput
        self.postAttentionNorm = postAttentionNorm
        self.mlpNorm = mlpNorm
        self.gateUp = gateUp
        self.down = down
        self.postMLPNorm = postMLPNorm
    }
}

/// How projections that the forward pass fuses into one matrix are stored.
public enum Stacking: Sendable, Equatable {
    /// One module per part (`q_proj`, `k_proj`, `v_proj`).
    case separate([String])
    /// One module whose rows are the parts stacked in order (Phi-3's `qkv_proj`).
    case fused(String)
}

/// How a family is laid out in a GGUF file by llama.cpp's converter, including the
/// conventions its metadata does not repeat.
public struct GGUFLayout: Sendable, Equatable {
    /// `general.architecture`, the prefix of the model's metadata keys; also one of the
    /// family's `modelTypes`, since the loader makes it the config's `model_type`.
    public let architecture: String
    public let names: TensorNames
    /// Per-pair divisors of the RoPE frequencies (Llama 3.1's `rope_freqs`), when stored.
    public let ropeFactors: String?
    /// The converter reorders each query/key head's rows from half-split rotary pairs to
    /// interleaved ones (llama); the loader puts them back.
    public let interleavesRotaryRows: Bool
    /// Every n-th layer is global, the rest slide (llama.cpp's gemma3: 6).
    public let slidingWindowPattern: Int?
    /// Queries are scaled by 1/√head_dim through `query_pre_attn_scalar` (llama.cpp's gemma3).
    public let queryScaleIsHeadDim: Bool

    public init(architecture: String, names: TensorNames, ropeFactors: String? = nil, interleavesRotaryRows: Bool = false,
                slidingWindowPattern: Int? = nil, queryScaleIsHeadDim: Bool = false) {
        self.architecture = architecture
        self.names = names
        self.ropeFactors = ropeFactors
        self.interleavesRotaryRows = interleavesRotaryRows
        self.slidingWindowPattern = slidingWindowPattern
        self.queryScaleIsHeadDim = queryScaleIsHeadDim
    }
}
