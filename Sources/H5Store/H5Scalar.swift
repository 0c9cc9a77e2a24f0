import CHDF5

/// Element types the store reads and writes, each with its HDF5 native type and a
/// short name for error messages and for readers of the files (h5py sees the same).
public protocol H5Scalar: Sendable {
    static var h5NativeType: hid_t { get }
    static var h5Class: H5T_class_t { get }
    static var isSigned: Bool { get }
    static var typeName: String { get }
}

extension Float: H5Scalar {
    public static var h5NativeType: hid_t { chdf5_native_float() }
    public static var h5Class: H5T_class_t { H5T_FLOAT }
    public static var isSigned: Bool { true }
    public static var typeName: String { "float32" }
}

extension Double: H5Scalar {
    public static var h5NativeType: hid_t { chdf5_native_double() }
    public static var h5Class: H5T_class_t { H5T_FLOAT }
    public static var isSigned: Bool { true }
    public static var typeName: String { "float64" }
}

extension Int32: H5Scalar {
    public static var h5NativeType: hid_t { chdf5_native_int32() }
    public static var h5Class: H5T_class_t { H5T_INTEGER }
    public static var isSigned: Bool { true }
    public static var typeName: String { "int32" }
}

extension Int64: H5Scalar {
    public static var h5NativeType: hid_t { chdf5_native_int64() }
    public static var h5Class: H5T_class_t { H5T_INTEGER }
    public static var isSigned: Bool { true }
    public static var typeName: String { "int64" }
}

extension UInt8: H5Scalar {
    public static var h5NativeType: hid_t { chdf5_native_uint8() }
    public static var h5Class: H5T_class_t { H5T_INTEGER }
    public static var isSigned: Bool { false }
    public static var typeName: String { "uint8" }
}

/// Describes a stored HDF5 type the way `H5Scalar.typeName` names ours ("float32", "int64", "string").
func describeType(_ type: hid_t) -> String {
    let size = H5Tget_size(type)
    switch H5Tget_class(type) {
    case H5T_FLOAT: return "float\(size * 8)"
    case H5T_INTEGER: return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + "\(size * 8)"
    case H5T_STRING: return "string"
    default: return "an unsupported HDF5 type class"
    }
}

/// Whether a stored type is exactly the scalar type asked for (no silent narrowing).
func typeMatches<T: H5Scalar>(_ type: hid_t, _: T.Type) -> Bool {
    guard H5Tget_class(type) == T.h5Class, H5Tget_size(type) == MemoryLayout<T>.size else { return false }
    if T.h5Class == H5T_INTEGER { return (H5Tget_sign(type) != H5T_SGN_NONE) == T.isSigned }
    return true
}
