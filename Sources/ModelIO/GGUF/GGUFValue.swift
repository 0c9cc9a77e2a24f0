/// One metadata value of a GGUF file, in the type the file stores it as.
/// The accessors convert leniently between integer widths (and integers to Double)
/// because converters are not consistent: the same key is UInt32 in one file and
/// Int32 or UInt64 in another.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    case array([GGUFValue])

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// Any integer kind, if it fits in `Int`.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// A float or an integer, as Double.
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        case .uint64(let v): return Double(v)
        default: return intValue.map(Double.init)
        }
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var arrayValue: [GGUFValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The array's elements if they are all strings.
    public var stringArray: [String]? {
        guard let array = arrayValue else { return nil }
        var result: [String] = []
        result.reserveCapacity(array.count)
        for element in array {
            guard let s = element.stringValue else { return nil }
            result.append(s)
        }
        return result
    }

    /// The array's elements if they are all integers.
    public var intArray: [Int]? {
        guard let array = arrayValue else { return nil }
        var result: [Int] = []
        result.reserveCapacity(array.count)
        for element in array {
            guard let v = element.intValue else { return nil }
            result.append(v)
        }
        return result
    }

    /// The array's elements if they are all numbers (token scores are float32).
    public var floatArray: [Float]? {
        guard let array = arrayValue else { return nil }
        var result: [Float] = []
        result.reserveCapacity(array.count)
        for element in array {
            guard let v = element.doubleValue else { return nil }
            result.append(Float(v))
        }
        return result
    }
}
