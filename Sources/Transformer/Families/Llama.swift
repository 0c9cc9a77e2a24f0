/// Llama (1, 2, 3 with `llama3` RoPE scaling, SmolLM) and Mistral: pre-norm blocks, SwiGLU,
/// separate projections. Mistral is the same model with a sliding window on every layer.
extension ArchitectureFamily {
    public static let llama = ArchitectureFamily(
        name: "llama", modelTypes: ["llama"], huggingFace: .llama,
        gguf: GGUFLayout(architecture: "llama", names: .llamaGGUF, ropeFactors: "rope_freqs", interleavesRotaryRows: true),
        activation: .silu, activationNames: ["silu"], slidingWindow: .never)

    /// llama.cpp converts Mistral checkpoints to `llama` GGUFs (without the window), so this
    /// family is read from HuggingFace folders only.
    public static let mistral = ArchitectureFamily(
        name: "mistral", modelTypes: ["mistral"], huggingFace: .llama, gguf: nil,
        activation: .silu, activationNames: ["silu"], slidingWindow: .everyLayer)
}

extension TensorNames {
    /// transformers' Llama layout, which most families copy.
    public static let llama = TensorNames(
        embedding: "model.embed_tokens", finalNorm: "model.norm", lmHead: "lm_head", layers: "model.layers",
        layer: LayerTensorNames(
            attentionNorm: "input_layernorm",
            queryKeyValue: .separate(["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"]),
            attentionOutput: "self_attn.o_proj",
            // In this layout the norm after attention is the one before the MLP.
            mlpNorm: "post_attention_layernorm",
            gateUp: .separate(["mlp.gate_proj", "mlp.up_proj"]), down: "mlp.down_proj"))

    /// llama.cpp's names for the same parts.
    public static let llamaGGUF = TensorNames(
        embedding: "token_embd", finalNorm: "output_norm", lmHead: "output", layers: "blk",
        layer: LayerTensorNames(
            attentionNorm: "attn_norm", queryKeyValue: .separate(["attn_q", "attn_k", "attn_v"]), attentionOutput: "attn_output",
            mlpNorm: "ffn_norm", gateUp: .separate(["ffn_gate", "ffn_up"]), down: "ffn_down"))
}
