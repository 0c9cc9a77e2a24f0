/// Why a tokenizer could not be built: the source (a file path, or "GGUF metadata") and
/// what in it is missing or unsupported.
public struct TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    public let source: String
    public let message: String

    public init(source: String, message: String) {
        self.source = source
        self.message = message
    }

    public var description: String { "\(source): \(message)" }
}
