/// The attribute kinds the store writes: a string, an integer, a float, or arrays of them.
/// Provenance records and run parameters are stored this way, readable by h5dump and h5py.
public enum H5AttributeValue: Equatable, Sendable, CustomStringConvertible {
    case string(String)
    case strings([String])
    case int(Int64)
    case ints([Int64])
    case double(Double)
    case doubles([Double])

    public var description: String {
        switch self {
        case let .string(s): return s
        case let .strings(s): return s.description
        case let .int(i): return String(i)
        case let .ints(i): return i.description
        case let .double(d): return String(d)
        case let .doubles(d): return d.description
        }
    }

    public var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
    public var intValue: Int64? { if case let .int(i) = self { return i } else { return nil } }
    public var doubleValue: Double? {
        switch self {
        case let .double(d): return d
        case let .int(i): return Double(i)
        default: return nil
        }
    }
}
