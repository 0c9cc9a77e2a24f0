/// A minimal JSON reader (`tokenizer.json`, task files). Foundation's JSONSerialization returns
/// objects as `[String: Any]`, and Swift compares `String` keys by canonical equivalence:
/// a vocabulary holding both the NFC and the NFD spelling of a token (Gemma's does) would
/// silently lose one. Here objects keep every key, in file order, as the exact scalars.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    public subscript(key: String) -> JSONValue? {
        guard case .object(let entries) = self else { return nil }
        let wanted = Array(key.unicodeScalars)
        return entries.first { $0.key.unicodeScalars.elementsEqual(wanted) }?.value
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var entries: [(key: String, value: JSONValue)]? { if case .object(let o) = self { return o }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }
    public var int: Int? {
        guard case .number(let d) = self, d == d.rounded(), abs(d) < 1e15 else { return nil }
        return Int(d)
    }

    /// The value written back as compact JSON text, object keys in file order, as UTF-8
    /// bytes (not `String`, whose equality would merge canonically equivalent spellings):
    /// equal values give equal bytes, which is what de-duplication needs.
    public var compactUTF8: [UInt8] {
        switch self {
        case .null: return Array("null".utf8)
        case .bool(let b): return Array((b ? "true" : "false").utf8)
        case .number(let d): return Array("\(d)".utf8)
        case .string(let s): return Array(String(reflecting: s).utf8)
        case .array(let values):
            return [UInt8(ascii: "[")] + Array(values.map(\.compactUTF8).joined(separator: [UInt8(ascii: ",")])) + [UInt8(ascii: "]")]
        case .object(let entries):
            let members = entries.map { Array(String(reflecting: $0.key).utf8) + [UInt8(ascii: ":")] + $0.value.compactUTF8 }
            return [UInt8(ascii: "{")] + Array(members.joined(separator: [UInt8(ascii: ",")])) + [UInt8(ascii: "}")]
        }
    }

    public struct SyntaxError: Error, CustomStringConvertible {
        let offset: Int
        let message: String
        public var description: String { "invalid JSON at byte \(offset): \(message)" }
    }

    /// Arrays and objects nested deeper than this are refused. The parser recurses once per
    /// level, so a file of a million "[" would otherwise overflow the stack; the files we
    /// read (tokenizer.json, safetensors headers, task lines) nest fewer than 10 levels.
    public static let maximumDepth = 64

    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var parser = Parser(bytes: bytes)
        let value = try parser.value()
        parser.skipSpace()
        guard parser.at == bytes.count else { throw SyntaxError(offset: parser.at, message: "text after the value") }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var at = 0
        /// Arrays and objects open around the current position.
        var depth = 0

        func error(_ message: String) -> SyntaxError { SyntaxError(offset: at, message: message) }

        mutating func skipSpace() {
            while at < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[at]) { at += 1 }
        }

        mutating func expect(_ literal: String) throws {
            for b in literal.utf8 {
                guard at < bytes.count, bytes[at] == b else { throw error("expected \(literal)") }
                at += 1
            }
        }

        mutating func value() throws -> JSONValue {
            skipSpace()
            guard at < bytes.count else { throw error("unexpected end") }
            switch bytes[at] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard depth < JSONValue.maximumDepth else {
                    throw error("arrays and objects nested more than \(JSONValue.maximumDepth) deep")
                }
                depth += 1
                defer { depth -= 1 }
                return bytes[at] == UInt8(ascii: "{") ? try object() : try array()
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            default:
                let start = at
                while at < bytes.count, "+-0123456789.eE".utf8.contains(bytes[at]) { at += 1 }
                guard let number = Double(String(decoding: bytes[start..<at], as: UTF8.self)) else {
                    at = start
                    throw error("unexpected character")
                }
                return .number(number)
            }
        }

        /// An object, from its "{".
        mutating func object() throws -> JSONValue {
            at += 1
            var entries: [(key: String, value: JSONValue)] = []
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(entries) }
            while true {
                skipSpace()
                let key = try string()
                skipSpace()
                try expect(":")
                entries.append((key, try value()))
                skipSpace()
                guard at < bytes.count else { throw error("unterminated object") }
                at += 1
                if bytes[at - 1] == UInt8(ascii: "}") { return .object(entries) }
                guard bytes[at - 1] == UInt8(ascii: ",") else { at -= 1; throw error("expected , or }") }
            }
        }

        /// An array, from its "[".
        mutating func array() throws -> JSONValue {
            at += 1
            var items: [JSONValue] = []
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
            while true {
                items.append(try value())
                skipSpace()
                guard at < bytes.count else { throw error("unterminated array") }
                at += 1
                if bytes[at - 1] == UInt8(ascii: "]") { return .array(items) }
                guard bytes[at - 1] == UInt8(ascii: ",") else { at -= 1; throw error("expected , or ]") }
            }
        }

        mutating func string() throws -> String {
            guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw error("expected a string") }
            at += 1
            var out: [UInt8] = []
            while true {
                guard at < bytes.count else { throw error("unterminated string") }
                let b = bytes[at]
                at += 1
                if b == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                guard b == UInt8(ascii: "\\") else { out.append(b); continue }
                guard at < bytes.count else { throw error("unterminated string") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    // A surrogate pair spells one scalar above U+FFFF.
                    if (0xD800..<0xDC00).contains(code), at + 1 < bytes.count,
                       bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") {
                        at += 2
                        let low = try hex4()
                        code = (0xDC00..<0xE000).contains(low) ? 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00) : 0xFFFD
                    }
                    out += Array(String(Unicode.Scalar(code) ?? "\u{FFFD}").utf8)
                default: out.append(e)  // \" \\ \/
                }
            }
        }

        mutating func hex4() throws -> UInt32 {
            guard at + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[at..<at + 4], as: UTF8.self), radix: 16) else {
                throw error("bad \\u escape")
            }
            at += 4
            return v
        }
    }
}
