import Foundation

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

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        func fail(_ message: String) -> ModelFileError { ModelFileError(path: path, message: message) }

        guard file.count >= 8 else { throw fail("shorter than the 8-byte header length; truncated") }
        let headerLength = UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(file.count - 8) else {
            throw fail("header length \(headerLength) exceeds the file (\(file.count) bytes); truncated or not a safetensors file")
        }
        let dataStart = 8 + Int(headerLength)
        let headerBytes = Data(bytes: file.base + 8, count: Int(headerLength))
        guard let header = (try? JSONSerialization.jsonObject(with: headerBytes)) as? [String: Any] else {
            throw fail("the header is not a JSON object; not a safetensors file")
        }

        var metadata: [String: String] = [:]
        var tensors: [SafetensorsTensorInfo] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let dict = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in dict {
                    guard let s = v as? String else { throw fail("__metadata__ value of \(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any],
                  let dtypeName = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  offsets.count == 2, shape.count == (entry["shape"] as? [Any])?.count else {
                throw fail("tensor \(name): malformed header entry (needs dtype, shape and two data_offsets)")
            }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw fail("tensor \(name): unknown dtype \(dtypeName)")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("tensor \(name): negative dimension in shape \(shape)") }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= file.count - dataStart else {
                throw fail("tensor \(name): data_offsets [\(begin), \(end)] lie outside the data (\(file.count - dataStart) bytes); truncated")
            }
            var expected = dtype.byteSize
            for d in shape {
                let (p, overflow) = expected.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail("tensor \(name): shape \(shape) overflows") }
                expected = p
            }
            guard end - begin == expected else {
                throw fail("tensor \(name): wrong size: \(end - begin) bytes for shape \(shape) of \(dtypeName) (\(expected) expected)")
            }
            tensors.append(SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape,
                                                 offset: dataStart + begin, byteCount: expected))
        }
        tensors.sort { ($0.offset, $0.name) < ($1.offset, $1.name) }

        self.path = path
        self.metadata = metadata
        self.tensors = tensors
        self.file = file
        self.indexByName = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
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
            throw ModelFileError(path: path, message: "no tensor named \(name)")
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
            throw ModelFileError(path: path, message: "tensor \(tensor.name): unsupported dtype \(tensor.dtype.rawValue) (F32, F16 and BF16 can be read as floats)")
        }
        guard destination.count == tensor.elementCount, tensor.offset + tensor.byteCount <= file.count else {
            throw ModelFileError(path: path, message: "tensor \(tensor.name): destination holds \(destination.count) floats, the tensor \(tensor.elementCount)")
        }
        guard let out = destination.baseAddress else { return }  // empty tensor
        HalfFloats.convert(tensor.dtype, from: file.base + tensor.offset, count: tensor.elementCount, into: out)
    }
}
