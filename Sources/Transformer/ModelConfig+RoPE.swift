/// `rope_scaling` of a HuggingFace config, or one entry of transformers 5's `rope_parameters`
/// (which carries the base, `rope_theta`, too). `llama3` is the scaling Llama-3.1/3.2 use,
/// `longrope` Phi-3's.
public struct RopeScaling: Codable, Sendable, Equatable {
    public var ropeType: String?
    public var type: String?
    public var ropeTheta: Double?
    public var factor: Double?
    public var lowFreqFactor: Double?
    public var highFreqFactor: Double?
    public var originalMaxPositionEmbeddings: Int?
    /// LongRoPE: per-pair divisors of the frequencies for sequences up to the original
    /// length (short) and beyond it (long).
    public var shortFactor: [Double]?
    public var longFactor: [Double]?
    /// LongRoPE: what cos and sin are multiplied by; derived from the length ratio when absent.
    public var attentionFactor: Double?
    public var partialRotaryFactor: Double?

    enum CodingKeys: String, CodingKey {
        case ropeType = "rope_type", type, ropeTheta = "rope_theta", factor, lowFreqFactor = "low_freq_factor"
        case highFreqFactor = "high_freq_factor", originalMaxPositionEmbeddings = "original_max_position_embeddings"
        case shortFactor = "short_factor", longFactor = "long_factor", attentionFactor = "attention_factor"
        case partialRotaryFactor = "partial_rotary_factor"
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

/// transformers 5's `rope_parameters`: one entry for every layer, or one per layer type
/// (`full_attention`, `sliding_attention`; Gemma 3).
public enum RopeParameters: Codable, Sendable, Equatable {
    case shared(RopeScaling)
    case perLayerType(full: RopeScaling?, sliding: RopeScaling?)

    enum LayerTypeKeys: String, CodingKey {
        case full = "full_attention", sliding = "sliding_attention"
    }

    public init(from decoder: Decoder) throws {
        let byType = try decoder.container(keyedBy: LayerTypeKeys.self)
        if byType.allKeys.isEmpty {
            self = .shared(try RopeScaling(from: decoder))
        } else {
            self = .perLayerType(full: try byType.decodeIfPresent(RopeScaling.self, forKey: .full),
                                 sliding: try byType.decodeIfPresent(RopeScaling.self, forKey: .sliding))
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .shared(let entry):
            try entry.encode(to: encoder)
        case .perLayerType(let full, let sliding):
            var byType = encoder.container(keyedBy: LayerTypeKeys.self)
            try byType.encodeIfPresent(full, forKey: .full)
            try byType.encodeIfPresent(sliding, forKey: .sliding)
        }
    }
}

/// The rotary embedding of one kind of layer, gathered from wherever the config keeps it.
public struct LayerRope: Sendable, Equatable {
    /// nil when the config gives no base (refused by `validate`).
    public var base: Double?
    public var scaling: RopeScaling?
}

extension ModelConfig {
    /// The RoPE base and scaling of global layers, or of sliding ones. transformers 5
    /// configs state both in `rope_parameters` (per layer type for Gemma 3); older ones in
    /// `rope_theta` and `rope_scaling`, with Gemma's local layers on `rope_local_base_freq`
    /// (the family's default when absent) and unscaled.
    public func rope(slidingLayer: Bool) -> LayerRope {
        var rope: LayerRope
        switch ropeParameters {
        case .shared(let entry)?:
            rope = LayerRope(base: entry.ropeTheta ?? ropeTheta, scaling: ropeScaling ?? entry)
        case .perLayerType(let full, let sliding)?:
            let entry = slidingLayer ? sliding ?? full : full
            rope = LayerRope(base: entry?.ropeTheta ?? ropeTheta, scaling: entry)
        case nil:
            if slidingLayer, let local = architecture?.localRopeBase.map({ ropeLocalBaseFreq ?? $0 }) {
                return LayerRope(base: local, scaling: nil)
            }
            rope = LayerRope(base: ropeTheta, scaling: ropeScaling)
        }
        // Phi-3 states the pre-training length beside `rope_scaling`; transformers prefers
        // that value to one inside it.
        if let original = originalMaxPositionEmbeddings, ["llama3", "longrope"].contains(rope.scaling?.kind) {
            rope.scaling?.originalMaxPositionEmbeddings = original
        }
        return rope
    }

    /// Whether any layer slides (and so uses `rope(slidingLayer: true)`).
    var hasSlidingLayers: Bool { (0..<numHiddenLayers).contains { isSlidingLayer($0) } }

    /// The longest sequence the harness runs: `max_position_embeddings`, and with LongRoPE
    /// at most the pre-training length. Past it transformers rotates every position with the
    /// long factors instead of the short ones; the harness keeps the short ones, so it refuses
    /// such sequences rather than compute a different model.
    public var contextLength: Int? {
        let global = rope(slidingLayer: false).scaling
        guard global?.kind == "longrope", let original = global?.originalMaxPositionEmbeddings else { return maxPositionEmbeddings }
        return min(maxPositionEmbeddings ?? original, original)
    }
}
