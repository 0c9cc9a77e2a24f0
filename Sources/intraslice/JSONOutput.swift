import ArgumentParser
import Foundation

/// The `--json` flag every subcommand has: the result as one JSON object on the last line of stdout.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print the result as one JSON object on the last line of stdout.")
    var json = false
}

enum JSONOutput {
    /// Prints `object` as compact JSON with sorted keys on one line.
    static func emit(_ object: [String: Any]) {
        let data = (try? JSONSerialization.data(withJSONObject: finite(object), options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{\"error\":\"result could not be encoded as JSON\"}".utf8)
        print(String(decoding: data, as: UTF8.self))
        fflush(stdout)
    }

    /// Prints a typed record the same way.
    static func emit<Record: Encodable>(_ record: Record) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data = (try? encoder.encode(record)) ?? Data("{\"error\":\"result could not be encoded as JSON\"}".utf8)
        print(String(decoding: data, as: UTF8.self))
        fflush(stdout)
    }

    /// JSON has no NaN or infinity: such a number (a standard error over one document, say)
    /// is written as null instead of making the whole object unencodable.
    private static func finite(_ value: Any) -> Any {
        switch value {
        case let number as Double: return number.isFinite ? number : NSNull()
        case let number as Float: return number.isFinite ? number : NSNull()
        case let object as [String: Any]: return object.mapValues(finite)
        case let array as [Any]: return array.map(finite)
        default: return value
        }
    }
}

/// A failure of a command, described in one line.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
