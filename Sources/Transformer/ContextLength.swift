/// Positions past the context length a model was trained for give numbers nobody can
/// compare (RoPE frequencies it never saw), so a sequence longer than the checkpoint's
/// `max_position_embeddings` (GGUF `context_length`) is refused rather than run.
public struct ContextLengthError: Error, CustomStringConvertible {
    public let description: String
}

extension TransformerModel {
    /// The longest sequence the checkpoint declares, if it declares one.
    public var contextLength: Int? { config.contextLength }

    /// Refuses `length` tokens in one sequence (`what` says where the length comes from).
    public func checkContext(_ length: Int, _ what: String) throws {
        if let contextLength, length > contextLength {
            throw ContextLengthError(description: "\(what) is \(length) tokens, longer than the model's context length of \(contextLength)")
        }
    }
}
