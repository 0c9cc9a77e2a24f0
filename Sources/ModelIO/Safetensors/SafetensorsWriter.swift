import Foundation

/// Builds a safetensors file in memory and writes it atomically: to a temporary file in
/// the destination folder, renamed over the destination only once complete, so a crash
/// never leaves a half-written checkpoint under the real name.
public struct SafetensorsWriter {
    public var metadata: [String: String] = [:]
    private var entries: [(name: String, dtype: SafetensorsDType, shape: [Int], data: Data)] = []

    /// What errors name as the file before there is one.
    static let unwritten = "(safetensors writer)"

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Adds a tensor stored as `dtype` (F32, F16 or BF16; the 16-bit ones round to nearest even).
    public mutating func add(_ name: String, shape: [Int], values: [Float], as dtype: SafetensorsDType = .f32) throws {
        guard name != "__metadata__", !entries.contains(where: { $0.name == name }) else {
            throw ModelFileError(path: Self.unwritten, message: "tensor \(name): name used twice or reserved")
        }
        guard shape.reduce(1, *) == values.count, shape.allSatisfy({ $0 >= 0 }) else {
            throw ModelFileError(path: Self.unwritten, message: "tensor \(name): shape \(shape) does not hold \(values.count) values")
        }
        guard dtype.isFloatConvertible else {
            throw ModelFileError(path: Self.unwritten, message: "tensor \(name): cannot write dtype \(dtype.rawValue) (F32, F16 and BF16 are supported)")
        }
        var data = Data(count: values.count * dtype.byteSize)
        data.withUnsafeMutableBytes { out in
            guard let base = out.baseAddress else { return }  // empty tensor
            values.withUnsafeBufferPointer { HalfFloats.encode($0, as: dtype, into: base) }
        }
        entries.append((name, dtype, shape, data))
    }

    public func write(to path: String) throws {
        // Wider types first, so that every tensor starts at a multiple of its element
        // size (the data section itself starts at a multiple of 8); no gaps are allowed.
        let ordered = entries.sorted {
            $0.dtype.byteSize != $1.dtype.byteSize ? $0.dtype.byteSize > $1.dtype.byteSize : $0.name < $1.name
        }
        var headerEntries: [SafetensorsHeaderEntry] = []
        var offset = 0
        for e in ordered {
            headerEntries.append(SafetensorsHeaderEntry(name: e.name, dtype: e.dtype, shape: e.shape, begin: offset, end: offset + e.data.count))
            offset += e.data.count
        }
        let json = try SafetensorsHeader.encode(headerEntries, metadata: metadata)

        var file = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { file.append(contentsOf: $0) }
        file.append(json)
        for e in ordered { file.append(e.data) }

        let destination = URL(fileURLWithPath: path)
        let temporary = destination.deletingLastPathComponent()
            .appendingPathComponent(".\(destination.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).\(UUID().uuidString).tmp")
        do {
            try file.write(to: temporary)
            guard rename(temporary.path, destination.path) == 0 else {
                throw ModelFileError(path: path, message: "cannot rename the temporary file into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            if let error = error as? ModelFileError { throw error }
            throw ModelFileError(path: path, message: "cannot write: \(error.localizedDescription)")
        }
    }
}
