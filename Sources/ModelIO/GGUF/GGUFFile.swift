/// Where one tensor of a GGUF file is and how it is stored.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// ggml order: `dimensions[0]` (ne[0]) is the contiguous one, the row length.
    public let dimensions: [Int]
    public let type: GGMLType
    /// Absolute offset of the tensor's first byte in the file.
    public let offset: Int

    /// Row-major shape, outermost first: a [rows, columns] matrix has dimensions [columns, rows].
    public var shape: [Int] { dimensions.reversed() }
    public var elementCount: Int { dimensions.reduce(1, *) }
    public var byteCount: Int { elementCount / type.blockSize * type.bytesPerBlock }
}

/// A GGUF file (versions 2 and 3), memory-mapped: the header, metadata and tensor
/// directory are parsed and checked on opening; tensor data is read on demand.
/// Layout (gguf.h): magic "GGUF", uint32 version, uint64 tensor count, uint64 key/value
/// count, the key/values, the tensor infos, padding to `general.alignment`, the data.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: Int
    public let metadata: [String: GGUFValue]
    /// In file order.
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment`, or 32.
    public let alignment: Int
    /// Absolute offset of the data section; tensor offsets in the file are relative to it.
    public let dataOffset: Int

    let file: MappedFile
    private let indexByName: [String: Int]


    /// Drops the mapped pages read so far from resident memory (see `MappedFile.releasePages`).
    public func releasePages() { file.releasePages() }

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        var cursor = GGUFCursor(file: file)
        func fail(_ message: String) -> ModelFileError { ModelFileError(path: path, message: message) }

        let magic = try cursor.read(UInt32.self, "the header")
        guard magic == 0x4655_4747 else {  // "GGUF" read as a little-endian uint32
            throw fail("not a GGUF file (the first 4 bytes are not \"GGUF\")")
        }
        let version = try cursor.read(UInt32.self, "the header")
        guard version == 2 || version == 3 else {
            throw fail("unsupported GGUF version \(version) (versions 2 and 3 are supported)")
        }
        // A tensor info takes at least 8 (name length) + 4 + 4 + 8 bytes, a key/value 8 + 4 + 1.
        let tensorCount = try cursor.readCount("the tensor count", minimumElementSize: 24)
        let keyCount = try cursor.readCount("the metadata key count", minimumElementSize: 13)

        var metadata: [String: GGUFValue] = [:]
        for index in 0..<keyCount {
            let key = try cursor.readString("metadata key \(index)")
            let label = ModelFileError.printable(key)
            let typeID = try cursor.read(UInt32.self, "the value type of \(label)")
            guard metadata[key] == nil else { throw fail("metadata key \(label) appears twice") }
            metadata[key] = try cursor.readValue(typeID: typeID, key: label)
        }

        var alignment = 32
        if let value = metadata["general.alignment"] {
            guard let a = value.intValue, a > 0, a & (a - 1) == 0 else {
                throw fail("general.alignment \(ModelFileError.printable("\(value)")) is not a positive power of two")
            }
            alignment = a
        }

        // `label` is the name made printable, for messages.
        struct RawInfo { let name: String; let label: String; let dimensions: [Int]; let typeID: UInt32; let relativeOffset: UInt64 }
        var raw: [RawInfo] = []
        raw.reserveCapacity(tensorCount)
        for index in 0..<tensorCount {
            let name = try cursor.readString("the name of tensor \(index)")
            let label = ModelFileError.printable(name)
            let dimensionCount = try cursor.read(UInt32.self, "the tensor info of \(label)")
            guard (1...4).contains(dimensionCount) else {
                throw fail("tensor \(label) has \(dimensionCount) dimensions (1 to 4 are allowed)")
            }
            var dimensions: [Int] = []
            for _ in 0..<dimensionCount {
                let d = try cursor.read(UInt64.self, "the tensor info of \(label)")
                guard d > 0, d <= UInt64(Int32.max) else { throw fail("tensor \(label) has dimension \(d)") }
                dimensions.append(Int(d))
            }
            let typeID = try cursor.read(UInt32.self, "the tensor info of \(label)")
            let relativeOffset = try cursor.read(UInt64.self, "the tensor info of \(label)")
            raw.append(RawInfo(name: name, label: label, dimensions: dimensions, typeID: typeID, relativeOffset: relativeOffset))
        }
        let dataOffset = (cursor.offset + alignment - 1) / alignment * alignment

        var tensors: [GGUFTensorInfo] = []
        var indexByName: [String: Int] = [:]
        for info in raw {
            guard let type = GGMLType(rawValue: info.typeID) else {
                let known = GGMLType.name(ofID: info.typeID).map { " (\($0))" } ?? ""
                throw fail("tensor \(info.label) has unknown or unsupported ggml type id \(info.typeID)\(known)")
            }
            guard info.dimensions[0] % type.blockSize == 0 else {
                throw fail("tensor \(info.label): row length \(info.dimensions[0]) is not a multiple of the \(type.name) block size \(type.blockSize)")
            }
            var elements = 1
            for d in info.dimensions {
                let (product, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow, product <= file.count * 8 else { throw fail("tensor \(info.label) is larger than the file; truncated") }
                elements = product
            }
            let byteCount = elements / type.blockSize * type.bytesPerBlock
            guard info.relativeOffset <= UInt64(file.count),
                  dataOffset + Int(info.relativeOffset) + byteCount <= file.count else {
                throw fail("tensor \(info.label) (\(byteCount) bytes at data offset \(info.relativeOffset)) extends past the end of the file (\(file.count) bytes); truncated")
            }
            guard indexByName[info.name] == nil else { throw fail("tensor \(info.label) appears twice") }
            indexByName[info.name] = tensors.count
            tensors.append(GGUFTensorInfo(name: info.name, dimensions: info.dimensions, type: type,
                                          offset: dataOffset + Int(info.relativeOffset)))
        }

        try Self.checkDisjoint(tensors, path: path)

        self.path = path
        self.version = Int(version)
        self.metadata = metadata
        self.tensors = tensors
        self.alignment = alignment
        self.dataOffset = dataOffset
        self.file = file
        self.indexByName = indexByName
    }

    /// Two tensors sharing bytes would make one silently hold (part of) another's weights.
    private static func checkDisjoint(_ tensors: [GGUFTensorInfo], path: String) throws {
        let byOffset = tensors.sorted { $0.offset < $1.offset }
        for (first, second) in zip(byOffset, byOffset.dropFirst()) where first.offset + first.byteCount > second.offset {
            throw ModelFileError(path: path, message: "the data of tensors \(ModelFileError.printable(first.name)) "
                + "and \(ModelFileError.printable(second.name)) overlap")
        }
    }

    public func tensor(named name: String) -> GGUFTensorInfo? {
        indexByName[name].map { tensors[$0] }
    }

    /// `general.architecture` ("llama", "gemma3", "qwen2", …), the prefix of the model's keys.
    public var architecture: String? { metadata["general.architecture"]?.stringValue }

    /// The tensor's stored bytes, valid while this object lives.
    public func rawBytes(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: file.base + tensor.offset, count: tensor.byteCount)
    }

    /// The tensor as Float32 in row-major order (which is ggml's storage order read flat).
    public func dequantize(_ tensor: GGUFTensorInfo) throws -> [Float] {
        try checkDequantizable(tensor)
        return try [Float](unsafeUninitializedCapacity: tensor.elementCount) { buffer, initialized in
            try dequantize(tensor, into: buffer)
            initialized = tensor.elementCount
        }
    }

    public func dequantize(_ tensor: GGUFTensorInfo, into destination: UnsafeMutableBufferPointer<Float>) throws {
        try checkDequantizable(tensor)
        guard destination.count == tensor.elementCount, let out = destination.baseAddress else {
            throw ModelFileError(path: path, message: "tensor \(ModelFileError.printable(tensor.name)): destination holds \(destination.count) floats, the tensor \(tensor.elementCount)")
        }
        GGMLDequantizer.dequantize(tensor.type, from: file.base + tensor.offset, count: tensor.elementCount, into: out)
    }

    private func checkDequantizable(_ tensor: GGUFTensorInfo) throws {
        guard tensor.type.isDequantizable else {
            throw ModelFileError(path: path, message: "tensor \(ModelFileError.printable(tensor.name)): dequantization of ggml type \(tensor.type.name) is not supported")
        }
        guard tensor.offset + tensor.byteCount <= file.count else {
            throw ModelFileError(path: path, message: "tensor \(ModelFileError.printable(tensor.name)) does not belong to this file")
        }
    }
}
