/// A model file that cannot be read: missing, unreadable, truncated, malformed or of a
/// kind we do not support. The message always comes with the file it is about, because
/// a checkpoint is often several files (shards) and the user needs to know which one.
public struct ModelFileError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
