import Foundation
import ModelIO

/// A test-only GGUF writer, written from the layout in gguf.h, to make small valid and
/// damaged files.
public struct TinyGGUF {
    public var magic: [UInt8] = Array("GGUF".utf8)
    public var version: UInt32 = 3
    public var metadata: [(String, GGUFValue)] = []
    public var tensors: [(name: String, dimensions: [Int], typeID: UInt32, data: [UInt8])] = []
    public var alignment = 32

    public init() {}

    private static func typeID(_ v: GGUFValue) -> UInt32 {
        switch v {
        case .uint8: return 0
        case .int8: return 1
        case .uint16: return 2
        case .int16: return 3
        case .uint32: return 4
        case .int32: return 5
        case .float32: return 6
        case .bool: return 7
        case .string: return 8
        case .array: return 9
        case .uint64: return 10
        case .int64: return 11
        case .float64: return 12
        }
    }

    private static func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }

    private static func append(_ s: String, to out: inout [UInt8]) {
        append(UInt64(s.utf8.count), to: &out)
        out += Array(s.utf8)
    }

    private static func appendValue(_ v: GGUFValue, to out: inout [UInt8]) {
        switch v {
        case .uint8(let x): append(x, to: &out)
        case .int8(let x): append(x, to: &out)
        case .uint16(let x): append(x, to: &out)
        case .int16(let x): append(x, to: &out)
        case .uint32(let x): append(x, to: &out)
        case .int32(let x): append(x, to: &out)
        case .uint64(let x): append(x, to: &out)
        case .int64(let x): append(x, to: &out)
        case .float32(let x): append(x.bitPattern, to: &out)
        case .float64(let x): append(x.bitPattern, to: &out)
        case .bool(let x): out.append(x ? 1 : 0)
        case .string(let s): append(s, to: &out)
        case .array(let elements):
            append(elements.first.map(typeID) ?? 0, to: &out)
            append(UInt64(elements.count), to: &out)
            for e in elements { appendValue(e, to: &out) }
        }
    }

    public var bytes: [UInt8] {
        var out = magic
        Self.append(version, to: &out)
        Self.append(UInt64(tensors.count), to: &out)
        Self.append(UInt64(metadata.count), to: &out)
        for (key, value) in metadata {
            Self.append(key, to: &out)
            Self.append(Self.typeID(value), to: &out)
            Self.appendValue(value, to: &out)
        }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            Self.append(t.name, to: &out)
            Self.append(UInt32(t.dimensions.count), to: &out)
            for d in t.dimensions { Self.append(UInt64(d), to: &out) }
            Self.append(t.typeID, to: &out)
            Self.append(UInt64(offset), to: &out)
            offsets.append(offset)
            offset = (offset + t.data.count + alignment - 1) / alignment * alignment
        }
        let dataStart = (out.count + alignment - 1) / alignment * alignment
        out += [UInt8](repeating: 0, count: dataStart - out.count)
        for (t, o) in zip(tensors, offsets) {
            out += [UInt8](repeating: 0, count: dataStart + o - out.count)
            out += t.data
        }
        return out
    }

    public func write(_ name: String = "tiny.gguf", cutTo length: Int? = nil) throws -> String {
        let path = try makeTemporaryFolder("gguf").appendingPathComponent(name).path
        let all = bytes
        try Data(all.prefix(length ?? all.count)).write(to: URL(fileURLWithPath: path))
        return path
    }
}

public func floatBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
}

