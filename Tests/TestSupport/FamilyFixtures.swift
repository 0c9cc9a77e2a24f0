import Foundation

/// The tiny HuggingFace checkpoints of every architecture family that
/// Baselines/families/make_tiny_checkpoints.py made with transformers, with its logits.
public enum FamilyFixtures {
    public static let names = ["llama3", "mistral", "qwen2", "phi3", "gemma3"]

    public static func folder(_ name: String) -> URL {
        repositoryRoot.appendingPathComponent("Tests/TransformerTests/Fixtures/families/\(name)")
    }
}
