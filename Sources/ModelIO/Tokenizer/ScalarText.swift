/// UTF-8 text decoded to Unicode scalars, each with its byte offset and the character class
/// the split patterns need. Working on scalars (never `Character`s) keeps "\r\n" as two
/// scalars, as the regex engines behind the reference tokenizers see it.
struct ScalarText {
    enum Class: UInt8 {
        case letter      // \p{L}
        case number      // \p{N}
        case newline     // \r or \n (also whitespace)
        case whitespace  // \s other than \r \n
        case other
    }

    var scalars: [UInt32] = []
    var classes: [Class] = []
    /// Byte offset of each scalar, plus the total byte count at the end.
    var offsets: [Int] = []

    var count: Int { scalars.count }

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        scalars.reserveCapacity(bytes.count)
        classes.reserveCapacity(bytes.count)
        offsets.reserveCapacity(bytes.count + 1)
        var i = 0
        while i < bytes.count {
            offsets.append(i)
            let (scalar, length) = Self.decode(bytes, at: i)
            scalars.append(scalar)
            classes.append(length == 0 ? .other : Self.classify(scalar))
            i += max(length, 1)
        }
        offsets.append(bytes.count)
    }

    /// Decodes one scalar; length 0 means an invalid byte, which is kept as one byte of
    /// class `.other` so that byte-level tokenizers still round-trip it.
    private static func decode(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32, Int) {
        let b0 = UInt32(b[i])
        if b0 < 0x80 { return (b0, 1) }
        let length = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 0
        guard length > 0, b0 < 0xF8, i + length <= b.count else { return (b0, 0) }
        var value = b0 & (0x7F >> UInt32(length))
        for k in 1..<length {
            let c = UInt32(b[i + k])
            guard c & 0xC0 == 0x80 else { return (b0, 0) }
            value = value << 6 | (c & 0x3F)
        }
        return (value, length)
    }

    private static let asciiClasses: [Class] = (0..<128).map { classifySlow(UInt32($0)) }

    static func classify(_ value: UInt32) -> Class {
        value < 128 ? asciiClasses[Int(value)] : classifySlow(value)
    }

    private static func classifySlow(_ value: UInt32) -> Class {
        if value == 0x0D || value == 0x0A { return .newline }
        guard let scalar = Unicode.Scalar(value) else { return .other }
        let properties = scalar.properties
        if properties.isWhitespace { return .whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }
}
