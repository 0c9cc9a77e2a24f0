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

    /// One line of printable text, whatever bytes the path or a name in the message holds,
    /// so that a hostile file cannot move the terminal's cursor or forge further lines.
    public var description: String {
        "\(Self.printable(path, limit: .max)): \(Self.printable(message, limit: .max))"
    }

    /// A string read from a file (a tensor name, a metadata key, a token), made fit for an
    /// error message: control, format (bidirectional overrides), separator, private-use and
    /// unassigned scalars become `\u{…}` escapes, and anything past `limit` scalars is cut
    /// with a note of the full length. Bytes that were not UTF-8 were already replaced by
    /// U+FFFD when the string was decoded. The escapes are themselves printable, so a
    /// message built from escaped names passes through again unchanged.
    public static func printable(_ text: String, limit: Int = 120) -> String {
        var out = String.UnicodeScalarView()
        var kept = 0
        for scalar in text.unicodeScalars {
            guard kept < limit else {
                return String(out) + "… (\(text.unicodeScalars.count) characters)"
            }
            if isPrintable(scalar) {
                out.append(scalar)
            } else {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            }
            kept += 1
        }
        return String(out)
    }

    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
            return false
        default:
            return true
        }
    }
}
