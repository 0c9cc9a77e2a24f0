/// Why an output path is refused or could not be written: `<path>: <problem>`, with the
/// path as the user gave it (the command line prepends `error: `).
public struct OutputError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: String

    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path.isEmpty ? "\"\"" : path): \(problem)" }
}
