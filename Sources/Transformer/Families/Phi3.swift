/// Phi-3 and Phi-3.5: Llama's blocks with the query, key and value projections fused into
/// `qkv_proj` and gate and up into `gate_up_proj`, LongRoPE scaling, and `sliding_window`
/// (when set) on every layer.
extension ArchitectureFamily {
    public static let phi3 = ArchitectureFamily(
        name: "phi3", modelTypes: ["phi3"], huggingFace: .phi3, gguf: nil,
        activation: .silu, activationNames: ["silu"], slidingWindow: .everyLayer)
}

extension TensorNames {
    public static let phi3: TensorNames = {
        var names = TensorNames.llama
        names.layer.queryKeyValue = .fused("self_attn.qkv_proj")
        names.layer.gateUp = .fused("mlp.gate_up_proj")
        return names
    }()
}
