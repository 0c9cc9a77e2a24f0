import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The files a `ShardedSafetensorsWriter` put in its folder.
public struct ShardedCheckpointFiles: Sendable, Equatable {
    /// In order: `model.safetensors` alone, or `model-00001-of-0000N.safetensors` …
    public let shards: [String]
    /// `model.safetensors.index.json` when there are several shards.
    public let index: String?
    /// The tensors' data bytes (the index's `total_size`).
    public let totalSize: Int
    /// Tensor name → shard file name.
    public let weightMap: [String: String]
}

/// Writes a checkpoint's weights into a folder in HuggingFace's layout, streaming: the
/// caller hands tensors one at a time as Float32, each is converted to the writer's type
/// (F32, F16 or BF16, rounded to nearest even) a chunk at a time and appended to the
/// current shard, so memory holds one chunk's conversion, never a checkpoint.
///
/// Shards follow `huggingface_hub`'s rule: a tensor goes into the current shard unless
/// that would take the shard's data past `maxShardBytes`, which starts a new one; a tensor
/// larger than the limit gets a shard of its own, numbered before the current one. One
/// shard is written as `model.safetensors` without an index; several as
/// `model-00001-of-0000N.safetensors` … with `model.safetensors.index.json`.
///
/// The shard count is known only at the end, so shards are written under temporary names
/// (`.model-00001.safetensors.tmp-<pid>`) and given their final names by `finish()`,
/// which never replaces an existing file (it links the new name, which fails if the name
/// is taken). A writer that is dropped or fails before `finish()` removes what it wrote.
public final class ShardedSafetensorsWriter {
    /// HuggingFace's default `max_shard_size` ("5GB").
    public static let defaultMaxShardBytes = 5_000_000_000
    /// Floats converted per step: the writer's working memory, beside the caller's tensor.
    public static let chunkElements = 1 << 20
    /// Header space written ahead of each shard's data, so data can go straight to its
    /// place before the header is known; the header is padded to it with spaces (the
    /// format allows them). About 600 tensors' entries fit; a shard whose header would
    /// outgrow it is closed early (no real checkpoint has that many tensors in 5 GB).
    static let headerReserve = 64 << 10

    public static let singleFileName = SafetensorsCheckpoint.singleFileName
    public static let indexFileName = SafetensorsCheckpoint.indexFileName

    public let folder: String
    public let dtype: SafetensorsDType
    public let maxShardBytes: Int
    private let metadata: [String: String]

    private struct Shard {
        let temporary: String
        let descriptor: Int32
        let reserve: Int
        var entries: [SafetensorsHeaderEntry] = []
        var dataBytes = 0
        /// The header's JSON length with the entries so far.
        var headerLength: Int
    }

    /// Shards complete on disk under their temporary names, in their final order.
    private var closed: [String] = []
    private var weightMap: [String: Int] = [:]  // tensor name → index into `closed`, or -1: the open shard
    private var current: Shard?
    private var created = 0
    private var totalSize = 0
    private var done = false
    private var failure: String?
    /// The index while it is written, before it has its name.
    private var indexTemporary: String?
    /// One chunk before and after conversion.
    private let floats = UnsafeMutableBufferPointer<Float>.allocate(capacity: chunkElements)
    private let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 * chunkElements, alignment: 8)

    /// `folder` must exist; `metadata` goes into every shard's `__metadata__`.
    public init(folder: String, dtype: SafetensorsDType, maxShardBytes: Int = defaultMaxShardBytes,
                metadata: [String: String] = ["format": "pt"]) throws {
        guard [.f32, .f16, .bf16].contains(dtype) else {
            throw ModelFileError(path: folder, message: "cannot write dtype \(dtype.rawValue) (F32, F16 and BF16 are supported)")
        }
        guard maxShardBytes > 0 else { throw ModelFileError(path: folder, message: "the shard size limit must be positive, got \(maxShardBytes)") }
        self.folder = folder
        self.dtype = dtype
        self.maxShardBytes = maxShardBytes
        self.metadata = metadata
    }

    deinit {
        if !done { discard(placed: []) }
        floats.deallocate()
        bytes.deallocate()
    }

    /// Appends a tensor whose values are all in memory.
    public func append(_ name: String, shape: [Int], values: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }), SafetensorsFile.byteCount(shape: shape, dtype: .f32) == values.count * 4 else {
            throw ModelFileError(path: folder, message: "tensor \(ModelFileError.printable(name)): shape \(shape) does not hold \(values.count) values")
        }
        try values.withUnsafeBufferPointer { all in
            try append(name, shape: shape) { range, chunk in
                chunk.baseAddress!.update(from: all.baseAddress! + range.lowerBound, count: range.count)
            }
        }
    }

    /// Appends a tensor of `shape` (row-major) whose values `fill` produces a chunk at a
    /// time: it is called with consecutive element ranges, in order, of at most
    /// `chunkElements` elements, and a buffer of that range's length to fill.
    public func append(_ name: String, shape: [Int],
                       fill: (_ range: Range<Int>, _ chunk: UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
        try guarded {
            let label = ModelFileError.printable(name)
            guard name != "__metadata__", weightMap[name] == nil else {
                throw ModelFileError(path: folder, message: "tensor \(label): name used twice or reserved")
            }
            guard shape.allSatisfy({ $0 >= 0 }), let byteCount = SafetensorsFile.byteCount(shape: shape, dtype: dtype) else {
                throw ModelFileError(path: folder, message: "tensor \(label): shape \(shape) is not a valid tensor shape")
            }
            func entryLength(at begin: Int) throws -> Int {
                try SafetensorsHeader.memberLength(name, SafetensorsHeaderEntry(name: name, dtype: dtype, shape: shape,
                                                                                begin: begin, end: begin + byteCount).json)
            }
            if byteCount > maxShardBytes {
                // A shard of its own, numbered before the one still being filled.
                var own = try openShard(firstEntryLength: entryLength(at: 0))
                do { try write(name, shape: shape, byteCount: byteCount, into: &own, fill: fill) } catch {
                    Glibc.close(own.descriptor)
                    unlink(own.temporary)
                    throw error
                }
                try close(own)
                weightMap[name] = closed.count - 1
                return
            }
            if let open = current, !open.entries.isEmpty,
               try open.dataBytes + byteCount > maxShardBytes || open.headerLength + 1 + entryLength(at: open.dataBytes) > open.reserve - 8 {
                try closeCurrent()
            }
            if current == nil { current = try openShard(firstEntryLength: entryLength(at: 0)) }
            try write(name, shape: shape, byteCount: byteCount, into: &current!, fill: fill)
            weightMap[name] = -1
        }
    }

    /// Closes the last shard, gives every shard its final name and writes the index.
    @discardableResult
    public func finish() throws -> ShardedCheckpointFiles {
        var placed: [String] = []
        return try guarded(placed: { placed }) {
            if current != nil { try closeCurrent() }
            if closed.isEmpty { try close(openShard(firstEntryLength: 0)) }  // a checkpoint without tensors
            let count = closed.count
            let names = count == 1 ? [Self.singleFileName]
                : (1...count).map { String(format: "model-%05d-of-%05d.safetensors", $0, count) }
            for (temporary, name) in zip(closed, names) {
                try place(temporary, as: name)
                placed.append(name)
            }
            closed = []
            let map = weightMap.mapValues { names[$0] }
            var index: String?
            if count > 1 {
                let temporary = temporaryPath(Self.indexFileName)
                let data = try SafetensorsIndex(totalSize: totalSize, weightMap: map).encoded()
                let descriptor = try create(temporary)
                indexTemporary = temporary
                do { try data.withUnsafeBytes { try writeAll(descriptor, $0, at: 0, path: temporary) } } catch {
                    Glibc.close(descriptor)
                    throw error
                }
                try closeSynced(descriptor, path: temporary)
                try place(temporary, as: Self.indexFileName)
                indexTemporary = nil
                placed.append(Self.indexFileName)
                index = Self.indexFileName
            }
            done = true
            return ShardedCheckpointFiles(shards: names, index: index, totalSize: totalSize, weightMap: map)
        }
    }

    // MARK: - Shards

    private func temporaryPath(_ name: String) -> String {
        (folder as NSString).appendingPathComponent(".\(name).tmp-\(getpid())")
    }

    private func create(_ path: String) throws -> Int32 {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ModelFileError(path: path, message: "cannot create: \(String(cString: strerror(errno)))") }
        return descriptor
    }

    private func openShard(firstEntryLength: Int) throws -> Shard {
        created += 1
        let temporary = temporaryPath(String(format: "model-%05d.safetensors", created))
        let headerLength = 2 + (metadata.isEmpty ? 0 : try SafetensorsHeader.memberLength("__metadata__", metadata))
        // Room for at least the first tensor's entry, whatever its name's length.
        let reserve = max(Self.headerReserve, (8 + headerLength + firstEntryLength + 1 + 7) / 8 * 8)
        return Shard(temporary: temporary, descriptor: try create(temporary), reserve: reserve, headerLength: headerLength)
    }

    private func write(_ name: String, shape: [Int], byteCount: Int, into shard: inout Shard,
                       fill: (Range<Int>, UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
        let count = byteCount / dtype.byteSize
        var start = 0
        while start < count {
            let range = start..<min(count, start + Self.chunkElements)
            let part = UnsafeMutableBufferPointer(rebasing: floats[0..<range.count])
            try fill(range, part)
            HalfFloats.encode(UnsafeBufferPointer(part), as: dtype, into: bytes.baseAddress!)
            try writeAll(shard.descriptor, UnsafeRawBufferPointer(rebasing: bytes[0..<(range.count * dtype.byteSize)]),
                         at: shard.reserve + shard.dataBytes + range.lowerBound * dtype.byteSize, path: shard.temporary)
            start = range.upperBound
        }
        let entry = SafetensorsHeaderEntry(name: name, dtype: dtype, shape: shape, begin: shard.dataBytes, end: shard.dataBytes + byteCount)
        // A comma after any earlier member.
        shard.headerLength += (shard.entries.isEmpty && metadata.isEmpty ? 0 : 1) + (try SafetensorsHeader.memberLength(name, entry.json))
        shard.entries.append(entry)
        shard.dataBytes += byteCount
        totalSize += byteCount
    }

    private func closeCurrent() throws {
        let open = current!
        current = nil
        try close(open)
        for (tensor, shard) in weightMap where shard == -1 { weightMap[tensor] = closed.count - 1 }
    }

    /// Writes the header ahead of the data, syncs and closes the shard; on failure the
    /// shard's file is removed.
    private func close(_ shard: Shard) throws {
        do {
            let header = try SafetensorsHeader.encode(shard.entries, metadata: metadata, paddedTo: shard.reserve - 8)
            var prefix = Data()
            withUnsafeBytes(of: UInt64(header.count).littleEndian) { prefix.append(contentsOf: $0) }
            prefix.append(header)
            do { try prefix.withUnsafeBytes { try writeAll(shard.descriptor, $0, at: 0, path: shard.temporary) } } catch {
                Glibc.close(shard.descriptor)
                throw error
            }
            try closeSynced(shard.descriptor, path: shard.temporary)
        } catch {
            unlink(shard.temporary)
            throw error
        }
        closed.append(shard.temporary)
    }

    /// Gives a finished temporary file its final name in the folder, refusing a taken name.
    private func place(_ temporary: String, as name: String) throws {
        let destination = (folder as NSString).appendingPathComponent(name)
        guard link(temporary, destination) == 0 else {
            let reason = errno == EEXIST ? "already exists; the writer replaces nothing" : String(cString: strerror(errno))
            throw ModelFileError(path: destination, message: reason)
        }
        unlink(temporary)
    }

    private func writeAll(_ descriptor: Int32, _ data: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        var done = 0
        while done < data.count {
            let n = pwrite(descriptor, data.baseAddress! + done, data.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelFileError(path: path, message: "cannot write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    /// Flushes to disk before closing, so a name given afterwards never shows an empty file after a crash.
    private func closeSynced(_ descriptor: Int32, path: String) throws {
        let synced = fsync(descriptor) == 0
        let reason = String(cString: strerror(errno))
        Glibc.close(descriptor)
        guard synced else { throw ModelFileError(path: path, message: "cannot write: \(reason)") }
    }

    // MARK: - Failure

    /// Runs `body`; on any error removes every file this writer made (temporary shards and,
    /// during `finish`, the names already given) and refuses further calls.
    private func guarded<T>(placed: () -> [String] = { [] }, _ body: () throws -> T) throws -> T {
        if let failure { throw ModelFileError(path: folder, message: "the writer stopped after an earlier error (\(failure))") }
        guard !done else { throw ModelFileError(path: folder, message: "the checkpoint is already finished") }
        do { return try body() } catch {
            failure = "\(error)"
            discard(placed: placed())
            throw error
        }
    }

    private func discard(placed: [String]) {
        if let open = current {
            Glibc.close(open.descriptor)
            unlink(open.temporary)
            current = nil
        }
        for temporary in closed { unlink(temporary) }
        closed = []
        for name in placed { unlink((folder as NSString).appendingPathComponent(name)) }
        if let indexTemporary { unlink(indexTemporary) }
        indexTemporary = nil
    }
}
