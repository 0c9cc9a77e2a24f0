import ModelIO

/// What the forward pass assumes of a config, checked once when a checkpoint is loaded so
/// that a contradictory or absurd config is refused with a message instead of reaching a
/// division by zero, a precondition or a silently different model.
extension ModelConfig {
    /// Limits far beyond any real model, so that products of them cannot overflow.
    static let largestWidth = 1 << 22
    static let largestLayerCount = 4096

    public func validate(source: String) throws {
        func fail(_ message: String) -> ModelFileError { ModelFileError(path: source, message: message) }
        func positive(_ value: Int, _ name: String, limit: Int = ModelConfig.largestWidth) throws {
            guard value >= 1, value <= limit else { throw fail("\(name) is \(value); it must be between 1 and \(limit)") }
        }
        func positive(_ value: Double, _ name: String) throws {
            guard value.isFinite, value > 0 else { throw fail("\(name) is \(value); it must be a positive finite number") }
        }
        try positive(hiddenSize, "hidden_size")
        try positive(intermediateSize, "intermediate_size")
        try positive(numHiddenLayers, "num_hidden_layers", limit: Self.largestLayerCount)
        try positive(numAttentionHeads, "num_attention_heads")
        try positive(numKeyValueHeads, "num_key_value_heads")
        try positive(vocabSize, "vocab_size")
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw fail("num_attention_heads \(numAttentionHeads) is not a multiple of num_key_value_heads \(numKeyValueHeads)")
        }
        if let headDim {
            try positive(headDim, "head_dim")
        } else if hiddenSize % numAttentionHeads != 0 {
            throw fail("hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads) and head_dim is not given")
        }
        guard resolvedHeadDim % 2 == 0 else { throw fail("the head size \(resolvedHeadDim) is odd; rotary embeddings need pairs") }
        try positive(rmsNormEps, "rms_norm_eps")
        if let ropeLocalBaseFreq { try positive(ropeLocalBaseFreq, "rope_local_base_freq") }
        try validateRope(rope(slidingLayer: false), fail: fail)
        if hasSlidingLayers { try validateRope(rope(slidingLayer: true), fail: fail) }
        if let partialRotaryFactor, partialRotaryFactor != 1 {
            throw fail("partial_rotary_factor is \(partialRotaryFactor); only rotary embeddings over the whole head (1) are implemented")
        }
        if let maxPositionEmbeddings { try positive(maxPositionEmbeddings, "max_position_embeddings", limit: 1 << 30) }
        if let slidingWindow { try positive(slidingWindow, "sliding_window", limit: 1 << 30) }
        if let slidingWindowPattern { try positive(slidingWindowPattern, "sliding_window_pattern", limit: Self.largestLayerCount) }
        if let layerTypes {
            guard layerTypes.count == numHiddenLayers else {
                throw fail("layer_types lists \(layerTypes.count) layers, num_hidden_layers is \(numHiddenLayers)")
            }
            if let unknown = layerTypes.first(where: { !["sliding_attention", "full_attention"].contains($0) }) {
                throw fail("layer_types has unknown entry '\(unknown)' (sliding_attention or full_attention)")
            }
        }
        if let maxWindowLayers, maxWindowLayers < 0 { throw fail("max_window_layers is \(maxWindowLayers); it must not be negative") }
        for (value, name) in [(finalLogitSoftcapping, "final_logit_softcapping"), (attnLogitSoftcapping, "attn_logit_softcapping")] {
            if let value { throw fail("\(name) is \(value); soft-capping is not implemented") }
        }
        if useBidirectionalAttention == true { throw fail("use_bidirectional_attention is true; only causal attention is implemented") }
        if let queryPreAttnScalar { try positive(queryPreAttnScalar, "query_pre_attn_scalar") }
        if let rmsNormDivisor { try positive(rmsNormDivisor, "rms_norm_divisor") }
        if let family = architecture {
            for activation in [hiddenActivation, hiddenAct].compactMap({ $0 }) where !family.activationNames.contains(activation) {
                throw fail("activation '\(activation)' is not the one the \(family) forward pass implements (\(family.activationNames[0]))")
            }
        }
        if let prunedLayers {
            guard prunedLayers.count == numHiddenLayers else {
                throw fail("intraslice_pruned_layers lists \(prunedLayers.count) layer shapes for \(numHiddenLayers) layers")
            }
            for (index, spec) in prunedLayers.enumerated() { try spec.validate(layer: index, fail: fail) }
        }
    }
}

extension ModelConfig {
    /// The RoPE of one kind of layer: a base, and a scaling the forward pass implements with
    /// every number it needs.
    private func validateRope(_ rope: LayerRope, fail: (String) -> ModelFileError) throws {
        guard let base = rope.base else {
            throw fail("rope_theta is missing (neither rope_theta nor rope_parameters gives the RoPE base)")
        }
        guard base.isFinite, base > 0 else { throw fail("rope_theta is \(base); it must be a positive finite number") }
        guard let scaling = rope.scaling else { return }
        let field = ropeScaling == nil && ropeParameters != nil ? "rope_parameters" : "rope_scaling"
        func positive(_ value: Double?, _ name: String) throws {
            guard let value else { throw fail("\(field) of type \(scaling.kind) needs \(name)") }
            guard value.isFinite, value > 0 else { throw fail("\(field).\(name) is \(value); it must be a positive finite number") }
        }
        guard ["default", "linear", "llama3", "longrope"].contains(scaling.kind) else {
            throw fail("unsupported \(field) type '\(scaling.kind)' (default, linear, llama3 and longrope are implemented)")
        }
        if let factor = scaling.factor { try positive(factor, "factor") }
        if let partial = scaling.partialRotaryFactor, partial != 1 {
            throw fail("\(field).partial_rotary_factor is \(partial); only rotary embeddings over the whole head (1) are implemented")
        }
        switch scaling.kind {
        case "linear":
            try positive(scaling.factor, "factor")
        case "llama3":
            for (value, name) in [(scaling.factor, "factor"), (scaling.lowFreqFactor, "low_freq_factor"),
                                  (scaling.highFreqFactor, "high_freq_factor")] {
                try positive(value, name)
            }
            try positive(scaling.originalMaxPositionEmbeddings.map(Double.init), "original_max_position_embeddings")
            guard scaling.highFreqFactor != scaling.lowFreqFactor else {
                throw fail("\(field): high_freq_factor equals low_freq_factor")
            }
        case "longrope":
            let pairs = resolvedHeadDim / 2
            for (factors, name) in [(scaling.shortFactor, "short_factor"), (scaling.longFactor, "long_factor")] {
                guard let factors, factors.count == pairs, factors.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                    throw fail("\(field) of type longrope needs \(name) with \(pairs) positive finite values (one per rotary pair)")
                }
            }
            try positive(scaling.originalMaxPositionEmbeddings.map(Double.init), "original_max_position_embeddings")
            if let attentionFactor = scaling.attentionFactor { try positive(attentionFactor, "attention_factor") }
            else if scaling.factor == nil, maxPositionEmbeddings == nil {
                throw fail("\(field) of type longrope needs factor or max_position_embeddings (for the attention factor)")
            }
        default:
            break
        }
    }
}

extension PrunedLayerSpec {
    func validate(layer index: Int, fail: (String) -> ModelFileError) throws {
        let limit = ModelConfig.largestWidth
        for (value, name) in [(numAttentionHeads, "num_attention_heads"), (numKeyValueHeads, "num_key_value_heads"),
                              (qkHeadDim, "qk_head_dim"), (vHeadDim, "v_head_dim"), (intermediateSize, "intermediate_size")] {
            guard value >= 1, value <= limit else {
                throw fail("intraslice_pruned_layers[\(index)].\(name) is \(value); it must be between 1 and \(limit)")
            }
        }
        guard qkHeadDim % 2 == 0 else { throw fail("intraslice_pruned_layers[\(index)].qk_head_dim \(qkHeadDim) is odd") }
        guard kvHeadOfQueryHead.count == numAttentionHeads,
              kvHeadOfQueryHead.allSatisfy({ $0 >= 0 && $0 < numKeyValueHeads }) else {
            throw fail("intraslice_pruned_layers[\(index)].kv_head_of_query_head must give each of \(numAttentionHeads) query heads "
                       + "a KV head in 0..<\(numKeyValueHeads)")
        }
        guard [qkHeadDim / 2, numKeyValueHeads * qkHeadDim / 2].contains(ropeInverseFrequencies.count),
              ropeInverseFrequencies.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw fail("intraslice_pruned_layers[\(index)].rope_inverse_frequencies must hold \(qkHeadDim / 2) (or one such list per KV head) "
                       + "positive finite values, it holds \(ropeInverseFrequencies.count)")
        }
        guard attentionScale.isFinite, attentionScale > 0 else {
            throw fail("intraslice_pruned_layers[\(index)].attention_scale is \(attentionScale); it must be positive and finite")
        }
    }
}
