/// Gemma 3 (text): RMSNorms on each query and key head and on each module's output before it
/// joins the residual stream, norm weights stored as w for a scale of 1 + w, GeGLU,
/// embeddings scaled by √hidden_size, and local (sliding, RoPE base 10⁴) layers between
/// global ones.
extension ArchitectureFamily {
    public static let gemma3 = ArchitectureFamily(
        name: "gemma3", modelTypes: ["gemma3_text", "gemma3"], huggingFace: .gemma3,
        gguf: GGUFLayout(architecture: "gemma3", names: .gemma3GGUF, slidingWindowPattern: 6, queryScaleIsHeadDim: true),
        storedNormOffset: 1, activation: .geluTanh, activationNames: ["gelu_pytorch_tanh", "gelu"], scalesEmbedding: true,
        slidingWindow: .alternating(defaultPattern: 6), localRopeBase: 10_000)
}

extension TensorNames {
    public static let gemma3: TensorNames = {
        var names = TensorNames.llama
        names.layer.queryNorm = "self_attn.q_norm"
        names.layer.keyNorm = "self_attn.k_norm"
        // Here `post_attention_layernorm` normalises the attention output, and the norm
        // before the MLP has its own name.
        names.layer.postAttentionNorm = "post_attention_layernorm"
        names.layer.mlpNorm = "pre_feedforward_layernorm"
        names.layer.postMLPNorm = "post_feedforward_layernorm"
        return names
    }()

    public static let gemma3GGUF: TensorNames = {
        var names = TensorNames.llamaGGUF
        names.layer.queryNorm = "attn_q_norm"
        names.layer.keyNorm = "attn_k_norm"
        names.layer.postAttentionNorm = "post_attention_norm"
        names.layer.postMLPNorm = "post_ffw_norm"
        return names
    }()
}
