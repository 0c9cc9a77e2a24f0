/// Where one tensor of a safetensors file is.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    /// Row-major, outermost first (PyTorch order).
    public let shape: [Int]
    /// Absolute offset of the first byte in the file.
    public let offset: Int
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
}

/// One safetensors file, memory-mapped. Layout: a little-endian uint64 N, N bytes of
/// JSON mapping each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets
/// relative to the end of the header), optionally "__metadata__" (string → string),
/// then the data. Everything is checked on opening.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let metadata: [String: String]
    /// Ordered by position in the file.
    public let tensors: [SafetensorsTensorInfo]

    let file: MappedFile
    private let indexByName: [String: Int]

    /// The safetensors library's own limit; a larger length is a damaged or foreign file.
    static let maximumHeaderLength = 100 << 20

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        func fail(_ message: String) -> ModelFileError { ModelFileError(path: path, message: message) }

        guard file.count >= 8 else { throw fail("shorter than the 8-byte header length; truncated") }
        let headerLength = UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(file.count - 8) else {
            throw fail("header length \(headerLength) exceeds the file (\(file.count) bytes); truncated or not a safetensors file")
        }
        guard headerLength <= UInt64(Self.maximumHeaderLength) else {
            throw fail("header length \(headerLength) is over \(Self.maximumHeaderLength) bytes; not a safetensors file")
        }
        let dataStart = 8 + Int(headerLength)
        // Our JSON reader, not JSONSerialization: that one keeps only the last of two equal
        // keys and reads `true`, 1.5 or 1e30 in a shape as some integer without a word.
        let header: [(key: String, value: JSONValue)]
        do {
            let bytes = [UInt8](UnsafeRawBufferPointer(start: file.base + 8, count: Int(headerLength)))
            guard let entries = try JSONValue.parse(bytes).entries else { throw fail("the header is not a JSON object; not a safetensors file") }
            header = entries
        } catch let error as JSONValue.SyntaxError {
            throw fail("the header is not JSON (\(error)); not a safetensors file")
        }

        var metadata: [String: String] = [:]
        var tensors: [SafetensorsTensorInfo] = []
        var names = Set<String>()
        for (name, value) in header {
            let label = ModelFileError.printable(name)
            guard names.insert(name).inserted else { throw fail("\(label) appears twice in the header") }
            if name == "__metadata__" {
                guard let entries = value.entries else { throw fail("__metadata__ is not an object") }
                for (k, v) in entries {
                    guard let s = v.string else { throw fail("__metadata__ value of \(ModelFileError.printable(k)) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let dtypeName = value["dtype"]?.string,
                  let shapeValues = value["shape"]?.array, let offsetValues = value["data_offsets"]?.array,
                  offsetValues.count == 2 else {
                throw fail("tensor \(label): malformed header entry (needs dtype, shape and two data_offsets)")
            }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw fail("tensor \(label): unknown dtype \(ModelFileError.printable(dtypeName))")
            }
            let shape = shapeValues.compactMap(\.int)
            guard shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("tensor \(label): the shape is not a list of whole numbers ≥ 0")
            }
            guard let expected = Self.byteCount(shape: shape, dtype: dtype) else {
                throw fail("tensor \(label): shape \(shape) is too large")
            }
            guard let begin = offsetValues[0].int, let end = offsetValues[1].int else {
                throw fail("tensor \(label): data_offsets are not two whole numbers")
            }
            guard begin >= 0, begin <= end, end <= file.count - dataStart else {
                throw fail("tensor \(label): data_offsets [\(begin), \(end)] lie outside the data (\(file.count - dataStart) bytes); truncated")
            }
            guard end - begin == expected else {
                throw fail("tensor \(label): wrong size: \(end - begin) bytes for shape \(shape) of \(dtypeName) (\(expected) expected)")
            }
            tensors.append(SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape,
                                                 offset: dataStart + begin, byteCount: expected))
        }
        tensors.sort { ($0.offset, $0.name) < ($1.offset, $1.name) }
        // Two tensors sharing bytes would make one silently hold (part of) another's weights.
        let stored = tensors.filter { $0.byteCount > 0 }
        for (first, second) in zip(stored, stored.dropFirst()) where first.offset + first.byteCount > second.offset {
            throw fail("the data of tensors \(ModelFileError.printable(first.name)) and \(ModelFileError.printable(second.name)) overlap")
        }

        self.path = path
        self.metadata = metadata
        self.tensors = tensors
        self.file = file
        self.indexByName = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    /// The tensor's size in bytes, or nil when the shape is absurd: a dimension over
    /// `Int32.max`, or nonzero dimensions whose product (times the element size) overflows.
    /// Zero dimensions are left out of the product, so that an empty tensor cannot carry
    /// a huge dimension into code that multiplies the others together.
    static func byteCount(shape: [Int], dtype: SafetensorsDType) -> Int? {
        var product = dtype.byteSize
        for d in shape where d != 0 {
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            guard d <= Int(Int32.max), !overflow else { return nil }
            product = p
        }
        return shape.contains(0) ? 0 : product
    }

    public func tensor(named name: String) -> SafetensorsTensorInfo? {
        indexByName[name].map { tensors[$0] }
    }

    /// The tensor's stored bytes, valid while this object lives.
    public func rawBytes(of tensor: SafetensorsTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: file.base + tensor.offset, count: tensor.byteCount)
    }

    /// The named tensor as Float, row-major; F16 and BF16 are widened exactly.
    public func floats(_ name: String) throws -> [Float] {
        guard let info = tensor(named: name) else {
            throw ModelFileError(path: path, message: "no tensor named \(ModelFileError.printable(name))")
        }
        return try floats(info)
    }

    public func floats(_ tensor: SafetensorsTensorInfo) throws -> [Float] {
        try [Float](unsafeUninitializedCapacity: tensor.elementCount) { buffer, initialized in
            try floats(tensor, into: buffer)
            initialized = tensor.elementCount
        }
    }

    public func floats(_ tensor: SafetensorsTensorInfo, into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard tensor.dtype.isFloatConvertible else {
            throw ModelFileError(path: path, message: "tensor \(ModelFileError.printable(tensor.name)): unsupported dtype \(tensor.dtype.rawValue) (F32, F16 and BF16 can be read as floats)")
        }
        guard destination.count == tensor.elementCount, tensor.offset + tensor.byteCount <= file.count else {
            throw ModelFileError(path: path, message: "tensor \(ModelFileError.printable(tensor.name)): destination holds \(destination.count) floats, the tensor \(tensor.elementCount)")
        }
        guard tensor.elementCount > 0, let out = destination.baseAddress else { return }  // empty tensor
        // In chunks whose source pages are dropped once converted: a 151936-row Float32
        // embedding would otherwise be resident twice (mapped and converted) at its peak.
        let chunk = 1 << 22, width = tensor.dtype.byteSize
        for start in stride(from: 0, to: tensor.elementCount, by: chunk) {
            let count = min(chunk, tensor.elementCount - start)
            HalfFloats.convert(tensor.dtype, from: file.base + tensor.offset + start * width, count: count, into: out + start)
            file.releasePages(offset: tensor.offset + start * width, length: count * width)
        }
    }
}
