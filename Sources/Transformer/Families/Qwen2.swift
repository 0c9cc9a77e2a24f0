/// Qwen2 and Qwen2.5: Llama's layout with biases on the query, key and value projections
/// (read wherever stored), and a sliding window from `max_window_layers` on when
/// `use_sliding_window` is set.
extension ArchitectureFamily {
    public static let qwen2 = ArchitectureFamily(
        name: "qwen2", modelTypes: ["qwen2"], huggingFace: .llama,
        gguf: GGUFLayout(architecture: "qwen2", names: .llamaGGUF),
        activation: .silu, activationNames: ["silu"], slidingWindow: .fromLayer(defaultFirst: 28), attentionBiases: true)
}
