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
        try positive(ropeTheta, "rope_theta")
        if let kind = ropeScaling?.kind, !["default", "llama3", "linear"].contains(kind) {
            throw fail("unsupported rope_scaling type '\(kind)' (default, linear and llama3 are implemented)")
        }
        if let factor = ropeScaling?.factor { try positive(factor, "rope_scaling.factor") }
        if ropeScaling?.kind == "linear", ropeScaling?.factor == nil { throw fail("rope_scaling of type linear needs factor") }
        if let ropeScaling, ropeScaling.kind == "llama3" {
            for (value, name) in [(ropeScaling.factor, "factor"), (ropeScaling.lowFreqFactor, "low_freq_factor"),
                                  (ropeScaling.highFreqFactor, "high_freq_factor")] {
                guard let value else { throw fail("rope_scaling of type llama3 needs \(name)") }
                try positive(value, "rope_scaling.\(name)")
            }
            guard let original = ropeScaling.originalMaxPositionEmbeddings else {
                throw fail("rope_scaling of type llama3 needs original_max_position_embeddings")
            }
            try positive(original, "rope_scaling.original_max_position_embeddings")
            guard ropeScaling.highFreqFactor != ropeScaling.lowFreqFactor else {
                throw fail("rope_scaling: high_freq_factor equals low_freq_factor")
            }
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
        if let ropeLocalBaseFreq { try positive(ropeLocalBaseFreq, "rope_local_base_freq") }
        if let queryPreAttnScalar { try positive(queryPreAttnScalar, "query_pre_attn_scalar") }
        if let rmsNormDivisor { try positive(rmsNormDivisor, "rms_norm_divisor") }
        for activation in [hiddenActivation, hiddenAct].compactMap({ $0 }) {
            let expected = architecture == .gemma3 ? ["gelu_pytorch_tanh", "gelu"] : ["silu"]
            guard expected.contains(activation) else {
                throw fail("activation '\(activation)' is not the one this architecture's forward pass implements (\(expected[0]))")
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
