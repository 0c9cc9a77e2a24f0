import Foundation

/// A one-line account of why `JSONDecoder` rejected a file: which key is missing or of the
/// wrong type, where. Foundation's own description is a multi-line dump of its context.
public func describeDecodingFailure(_ error: Error) -> String {
    guard let error = error as? DecodingError else { return "\(error)" }
    func path(_ context: DecodingError.Context) -> String {
        let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
        return keys.isEmpty ? "the top level" : "'" + keys.joined(separator: ".").replacingOccurrences(of: ".[", with: "[") + "'"
    }
    switch error {
    case let .keyNotFound(key, context):
        let parent = context.codingPath.isEmpty ? "" : " in \(path(context))"
        return "the key '\(key.stringValue)' is missing\(parent)"
    case let .typeMismatch(type, context):
        return "\(path(context)) is not \(typeName(type))"
    case let .valueNotFound(type, context):
        return "\(path(context)) is null where \(typeName(type)) is needed"
    case let .dataCorrupted(context):
        // Foundation's own sentence ("Number 1e+30 is not representable in Swift.") says
        // more than a generic one; the underlying error's dump is left out.
        let reason = context.debugDescription.split(whereSeparator: \.isNewline).first.map(String.init) ?? "not valid JSON"
        return context.codingPath.isEmpty ? reason : "\(path(context)) has an unusable value: \(reason)"
    @unknown default:
        return "not decodable"
    }
}

private func typeName(_ type: Any.Type) -> String {
    switch type {
    case is Int.Type, is Int32.Type, is Int64.Type, is UInt64.Type: return "an integer"
    case is Double.Type, is Float.Type: return "a number"
    case is String.Type: return "a string"
    case is Bool.Type: return "a boolean"
    default:
        let name = "\(type)"
        return name.hasPrefix("Array") ? "a list" : name.hasPrefix("Dictionary") ? "an object" : "a \(name)"
    }
}
