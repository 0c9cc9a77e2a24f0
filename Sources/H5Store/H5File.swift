import CHDF5
import Foundation

/// An open HDF5 file with the read operations; `H5Reader` opens one read-only,
/// `H5Writer` adds writing. Paths inside the file are absolute ("/metrics/ppl").
///
/// The serial HDF5 library is not thread-safe: use one file object from one thread.
public class H5File {
    /// The path shown in errors: the user-facing file, not a temporary one.
    public let displayPath: String
    var fileID: hid_t

    init(fileID: hid_t, displayPath: String) {
        self.fileID = fileID
        self.displayPath = displayPath
    }

    deinit { if fileID >= 0 { H5Fclose(fileID) } }

    func error(_ message: String) -> H5Error { H5Error(file: displayPath, message) }

    /// Whether an object (group or dataset) exists at `path`; every intermediate link is checked.
    public func exists(_ path: String) -> Bool {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            guard H5Lexists(fileID, prefix, chdf5_p_default()) > 0 else { return false }
        }
        return true
    }

    public enum ObjectKind: Equatable { case group, dataset }

    public func kind(of path: String) -> ObjectKind? {
        guard path == "/" || exists(path) else { return nil }
        let object = H5Oopen(fileID, path, chdf5_p_default())
        guard object >= 0 else { return nil }
        defer { H5Oclose(object) }
        switch H5Iget_type(object) {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        default: return nil
        }
    }

    /// Names of the links directly under a group, sorted by name.
    public func children(of path: String = "/") throws -> [String] {
        let group = H5Gopen2(fileID, path, chdf5_p_default())
        guard group >= 0 else { throw error("no group \(path)") }
        defer { H5Gclose(group) }
        var info = H5G_info_t()
        guard H5Gget_info(group, &info) >= 0 else { throw error("cannot list group \(path)") }
        return try (0..<info.nlinks).map { i in
            let length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, chdf5_p_default())
            guard length >= 0 else { throw error("cannot read link \(i) of group \(path)") }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buffer, buffer.count, chdf5_p_default())
            return String(cString: buffer)
        }
    }

    /// The shape of the dataset at `path` (empty for a scalar).
    public func shape(of path: String) throws -> [Int] {
        let dataset = try openDataset(path)
        defer { H5Dclose(dataset) }
        return try datasetShape(dataset, path)
    }

    /// Reads a dataset of exactly type T, with its shape. A stored type other than T is an
    /// error (no silent conversion), as is a truncated or corrupt file.
    public func read<T: H5Scalar>(_ path: String, as type: T.Type = T.self) throws -> (values: [T], shape: [Int]) {
        let dataset = try openDataset(path)
        defer { H5Dclose(dataset) }
        let shape = try datasetShape(dataset, path)
        let storedType = H5Dget_type(dataset)
        defer { H5Tclose(storedType) }
        guard typeMatches(storedType, T.self) else {
            throw error("dataset \(path) holds \(describeType(storedType)), not \(T.typeName)")
        }
        var values = [T](unsafeUninitializedCapacity: shape.reduce(1, *)) { buffer, count in
            count = buffer.count
        }
        if values.isEmpty { return (values, shape) }
        let status = values.withUnsafeMutableBytes { raw in
            H5Dread(dataset, T.h5NativeType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), raw.baseAddress)
        }
        guard status >= 0 else { throw error("cannot read dataset \(path): the file is truncated or corrupt") }
        return (values, shape)
    }

    /// Reads a dataset and checks that its shape is `expectedShape`.
    public func read<T: H5Scalar>(_ path: String, as type: T.Type = T.self, expectedShape: [Int]) throws -> [T] {
        let (values, shape) = try read(path, as: type)
        guard shape == expectedShape else {
            throw error("dataset \(path) has shape \(shape), expected \(expectedShape)")
        }
        return values
    }

    /// All attributes of the object at `path`, by name.
    public func attributes(of path: String = "/") throws -> [String: H5AttributeValue] {
        let object = try openObject(path)
        defer { H5Oclose(object) }
        final class Names { var list: [String] = [] }
        let names = Names()
        let collect: H5A_operator2_t = { _, name, _, opaque in
            let box = Unmanaged<Names>.fromOpaque(opaque!).takeUnretainedValue()
            box.list.append(String(cString: name!))
            return 0
        }
        let status = H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, nil, collect, Unmanaged.passUnretained(names).toOpaque())
        guard status >= 0 else { throw error("cannot list the attributes of \(path)") }
        var result: [String: H5AttributeValue] = [:]
        for name in names.list { result[name] = try readAttribute(object: object, name: name, path: path) }
        return result
    }

    /// One attribute of the object at `path`.
    public func attribute(_ name: String, of path: String = "/") throws -> H5AttributeValue {
        let object = try openObject(path)
        defer { H5Oclose(object) }
        guard H5Aexists(object, name) > 0 else { throw error("\(path) has no attribute '\(name)'") }
        return try readAttribute(object: object, name: name, path: path)
    }

    // MARK: - Helpers shared with the writer

    func openObject(_ path: String) throws -> hid_t {
        guard path == "/" || exists(path) else { throw error("no object \(path)") }
        let object = H5Oopen(fileID, path, chdf5_p_default())
        guard object >= 0 else { throw error("cannot open \(path)") }
        return object
    }

    func openDataset(_ path: String) throws -> hid_t {
        guard kind(of: path) == .dataset else { throw error("no dataset \(path)") }
        let dataset = H5Dopen2(fileID, path, chdf5_p_default())
        guard dataset >= 0 else { throw error("cannot open dataset \(path)") }
        return dataset
    }

    private func datasetShape(_ dataset: hid_t, _ path: String) throws -> [Int] {
        let space = H5Dget_space(dataset)
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else { throw error("cannot read the shape of \(path)") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        H5Sget_simple_extent_dims(space, &dims, nil)
        return dims.map { Int($0) }
    }

    private func readAttribute(object: hid_t, name: String, path: String) throws -> H5AttributeValue {
        let attribute = H5Aopen(object, name, chdf5_p_default())
        guard attribute >= 0 else { throw error("cannot open attribute '\(name)' of \(path)") }
        defer { H5Aclose(attribute) }
        let type = H5Aget_type(attribute)
        defer { H5Tclose(type) }
        let space = H5Aget_space(attribute)
        defer { H5Sclose(space) }
        let isScalar = H5Sget_simple_extent_type(space) == H5S_SCALAR
        let count = Int(H5Sget_simple_extent_npoints(space))
        let failure = error("cannot read attribute '\(name)' of \(path)")

        switch H5Tget_class(type) {
        case H5T_STRING:
            let strings = try readStrings(attribute: attribute, type: type, count: count, failure: failure)
            return isScalar ? .string(strings.first ?? "") : .strings(strings)
        case H5T_INTEGER:
            var values = [Int64](repeating: 0, count: count)
            guard H5Aread(attribute, chdf5_native_int64(), &values) >= 0 else { throw failure }
            return isScalar ? .int(values[0]) : .ints(values)
        case H5T_FLOAT:
            var values = [Double](repeating: 0, count: count)
            guard H5Aread(attribute, chdf5_native_double(), &values) >= 0 else { throw failure }
            return isScalar ? .double(values[0]) : .doubles(values)
        default:
            throw error("attribute '\(name)' of \(path) has an unsupported type (\(describeType(type)))")
        }
    }

    /// Reads variable-length or fixed-length string attributes (h5py writes both kinds).
    private func readStrings(attribute: hid_t, type: hid_t, count: Int, failure: H5Error) throws -> [String] {
        if H5Tis_variable_str(type) > 0 {
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            let memoryType = variableStringType()
            defer { H5Tclose(memoryType) }
            guard H5Aread(attribute, memoryType, &pointers) >= 0 else { throw failure }
            defer { pointers.forEach { if let p = $0 { H5free_memory(p) } } }
            return pointers.map { $0.map { String(cString: $0) } ?? "" }
        }
        let width = H5Tget_size(type)
        var buffer = [UInt8](repeating: 0, count: width * count)
        guard H5Aread(attribute, type, &buffer) >= 0 else { throw failure }
        return (0..<count).map { i in
            let bytes = buffer[(i * width)..<((i + 1) * width)].prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

/// A variable-length UTF-8 string type: what h5py reads back as Python `str`.
func variableStringType() -> hid_t {
    let type = H5Tcopy(chdf5_c_s1())
    H5Tset_size(type, chdf5_variable())
    H5Tset_cset(type, H5T_CSET_UTF8)
    return type
}

/// Opens existing HDF5 files read-only, with a clear error for missing, foreign or damaged files.
public final class H5Reader: H5File {
    public init(path: String) throws {
        H5Library.initialize()
        guard FileManager.default.fileExists(atPath: path) else { throw H5Error(file: path, "no such file") }
        guard H5Fis_hdf5(path) > 0 else {
            throw H5Error(file: path, "not an HDF5 file (wrong signature, or truncated before its superblock)")
        }
        let id = H5Fopen(path, chdf5_acc_rdonly(), H5Library.strongCloseAccess)
        guard id >= 0 else { throw H5Error(file: path, "cannot open the HDF5 file: it is truncated or corrupt") }
        super.init(fileID: id, displayPath: path)
    }
}

/// One-time library set-up: HDF5's own error printing is switched off because every
/// failure is reported through `H5Error` instead.
enum H5Library {
    nonisolated(unsafe) private static var initialized = false
    nonisolated(unsafe) static var strongCloseAccess: hid_t = -1

    static func initialize() {
        guard !initialized else { return }
        H5open()
        chdf5_silence_errors()
        // Closing the file closes every object still open in it, so a file is never left open.
        strongCloseAccess = H5Pcreate(chdf5_p_file_access())
        H5Pset_fclose_degree(strongCloseAccess, H5F_CLOSE_STRONG)
        initialized = true
    }

    /// "1.10.8": the library version, for provenance.
    static var version: String {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        H5get_libversion(&major, &minor, &release)
        return "\(major).\(minor).\(release)"
    }
}
