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

    /// A value of GGUF type `typeID` (gguf.h's `gguf_type`); arrays may nest.
    mutating func readValue(typeID: UInt32, key: String) throws -> GGUFValue {
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
            let elementType = try read(UInt32.self, "the element type of \(key)")
            let count = try readCount("the element count of \(key)")
            var elements: [GGUFValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count {
                elements.append(try readValue(typeID: elementType, key: key))
            }
            return .array(elements)
        case 10: return .uint64(try read(UInt64.self, what))
        case 11: return .int64(try read(Int64.self, what))
        case 12: return .float64(Double(bitPattern: try read(UInt64.self, what)))
        default:
            throw ModelFileError(path: file.path, message: "metadata \(key): unknown value type \(typeID)")
        }
    }
}
