/// Why a tokenizer could not be built: the same "<file>: <problem>" error as every other
/// model-file failure, created with the tokenizer's source (a file path).
public typealias TokenizerError = ModelFileError

extension ModelFileError {
    public init(source: String, message: String) {
        self.init(path: source, message: message)
    }
}
