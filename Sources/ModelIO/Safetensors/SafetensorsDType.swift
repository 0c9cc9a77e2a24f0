/// Element types of the safetensors format. All are known so that every file's sizes
/// can be checked; only F32, F16 and BF16 convert to Float.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
        }
    }

    public var isFloatConvertible: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

/// Conversions between Float and the 16-bit float formats, shared by reader and writer.
enum HalfFloats {
    @inline(__always) static func bf16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Rounds to nearest, ties to even (as PyTorch does); NaN stays a quiet NaN.
    @inline(__always) static func floatToBF16(_ value: Float) -> UInt16 {
        if value.isNaN { return 0x7FC0 | UInt16(truncatingIfNeeded: value.bitPattern >> 16) & 0x8000 }
        let bits = value.bitPattern
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    /// Stores `values` as `dtype` (F32, F16 or BF16, little-endian) at `destination`, which
    /// holds `values.count * dtype.byteSize` bytes; the 16-bit types round to nearest even.
    static func encode(_ values: UnsafeBufferPointer<Float>, as dtype: SafetensorsDType, into destination: UnsafeMutableRawPointer) {
        switch dtype {
        case .f32:
            for (i, v) in values.enumerated() { destination.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        case .f16:
            for (i, v) in values.enumerated() { destination.storeBytes(of: Float16(v).bitPattern.littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16:
            for (i, v) in values.enumerated() { destination.storeBytes(of: floatToBF16(v).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        default:
            preconditionFailure("\(dtype) is not written from Float")
        }
    }

    /// Converts `count` elements of a float type at `source` (little-endian, unaligned) to Float.
    static func convert(_ dtype: SafetensorsDType, from source: UnsafeRawPointer, count: Int,
                        into destination: UnsafeMutablePointer<Float>) {
        switch dtype {
        case .f32:
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
        case .f16:
            for i in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                destination[i] = Float(Float16(bitPattern: bits))
            }
        case .bf16:
            for i in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                destination[i] = bf16ToFloat(bits)
            }
        default:
            preconditionFailure("\(dtype) does not convert to Float")
        }
    }
}
