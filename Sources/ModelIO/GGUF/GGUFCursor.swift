/// Reads the little-endian header and metadata of a GGUF file from its mapping,
/// checking every read against the end of the file so that a cut file gives an error
/// instead of a crash.
struct GGUFCursor {
    let file: MappedFile
    private(set) var offset: Int = 0

    init(file: MappedFile) { self.file = file }

    private func ensure(_ byteCount: Int, _ what: @autoclosure () -> String) throws {
        guard byteCount >= 0, byteCount <= file.count - offset else {
            throw ModelFileError(path: file.path, message: "file ends inside \(what()) (at byte \(offset) of \(file.count)); truncated")
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try ensure(MemoryLayout<T>.size, what())
        let value = file.base.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    /// A count or size stored as uint64, which must fit in `Int` and leave room for at
    /// least `minimumElementSize` bytes per element in the rest of the file.
    mutating func readCount(_ what: @autoclosure () -> String, minimumElementSize: Int = 1) throws -> Int {
        let raw = try read(UInt64.self, what())
        let remaining = UInt64(file.count - offset)
        guard raw <= remaining / UInt64(max(minimumElementSize, 1)) else {
            throw ModelFileError(path: file.path, message: "\(what()) is \(raw), more than the rest of the file can hold (at byte \(offset)); truncated or corrupt")
        }
        return Int(raw)
    }

    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let length = try readCount("the length of \(what())")
        try ensure(length, what())
        let bytes = UnsafeRawBufferPointer(start: file.base + offset, count: length)
        offset += length
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Nested arrays deeper than this are refused: real files nest at most two levels, and
    /// each level is a frame of recursion, so a file nesting arrays a million deep would
    /// otherwise overflow the stack.
    static let maximumArrayDepth = 8

    /// A value of GGUF type `typeID` (gguf.h's `gguf_type`); arrays may nest up to
    /// `maximumArrayDepth`. `key` is the metadata key, already made printable.
    mutating func readValue(typeID: UInt32, key: String, depth: Int = 0) throws -> GGUFValue {
        let what = "the value of \(key)"
        switch typeID {
        case 0: return .uint8(try read(UInt8.self, what))
        case 1: return .int8(try read(Int8.self, what))
        case 2: return .uint16(try read(UInt16.self, what))
        case 3: return .int16(try read(Int16.self, what))
        case 4: return .uint32(try read(UInt32.self, what))
        case 5: return .int32(try read(Int32.self, what))
        case 6: return .float32(Float(bitPattern: try read(UInt32.self, what)))
        case 7:
            let byte = try read(UInt8.self, what)
            guard byte <= 1 else {
                throw ModelFileError(path: file.path, message: "metadata \(key): bool value \(byte) is neither 0 nor 1")
            }
            return .bool(byte == 1)
        case 8: return .string(try readString(what))
        case 9:
            guard depth < Self.maximumArrayDepth else {
                throw ModelFileError(path: file.path, message: "metadata \(key): arrays nested more than \(Self.maximumArrayDepth) deep")
            }
            let elementType = try read(UInt32.self, "the element type of \(key)")
            guard let elementSize = Self.minimumSize(ofType: elementType) else {
                throw ModelFileError(path: file.path, message: "metadata \(key): unknown array element type \(elementType)")
            }
            let count = try readCount("the element count of \(key)", minimumElementSize: elementSize)
            var elements: [GGUFValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count {
                elements.append(try readValue(typeID: elementType, key: key, depth: depth + 1))
            }
            return .array(elements)
        case 10: return .uint64(try read(UInt64.self, what))
        case 11: return .int64(try read(Int64.self, what))
        case 12: return .float64(Double(bitPattern: try read(UInt64.self, what)))
        default:
            throw ModelFileError(path: file.path, message: "metadata \(key): unknown value type \(typeID)")
        }
    }

    /// The fewest bytes a value of the type takes (a string its length, an array its element
    /// type and count), so that an element count the rest of the file cannot hold is refused
    /// before anything is allocated for it.
    static func minimumSize(ofType typeID: UInt32) -> Int? {
        switch typeID {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 8, 10, 11, 12: return 8
        case 9: return 12
        default: return nil
        }
    }
}
