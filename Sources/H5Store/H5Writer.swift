import CHDF5
import Foundation

/// How a dataset is laid out on disk.
public enum H5Compression: Sendable, Equatable {
    /// gzip (with byte shuffling) for datasets of at least `H5Writer.compressionThreshold` bytes.
    case automatic
    case none
    /// Chunked, shuffled, gzip at the given level (1–9).
    case gzip(level: Int)
}

/// Writes an HDF5 file atomically: everything goes to a temporary file in the destination's
/// folder, and `commit()` renames it over the destination. An interrupted run therefore
/// leaves either the previous file or the complete new one, never a half-written file.
/// A writer dropped without `commit()` deletes its temporary file. What may be replaced,
/// and the clean-up of a killed run's temporary files, follow `OutputFile`.
public final class H5Writer: H5File {
    /// Datasets at least this large (bytes) are chunked and compressed under `.automatic`.
    public static let compressionThreshold = 64 * 1024
    /// Target chunk size in bytes for compressed datasets.
    static let chunkBytes = 1 << 20

    public let destination: String
    let output: OutputFile
    let temporaryPath: String
    private var finished = false

    /// Starts a new file that will replace `path` on commit.
    public convenience init(path: String) throws {
        try self.init(path: path, keepingContents: false)
    }

    /// Starts from the current contents of `path` (if it exists), to add or replace objects.
    public convenience init(updating path: String) throws {
        try self.init(path: path, keepingContents: true)
    }

    private init(path: String, keepingContents: Bool) throws {
        H5Library.initialize()
        let output = try OutputFile(path)
        let temporary = output.temporaryPath()
        let id: hid_t
        if keepingContents && FileManager.default.fileExists(atPath: path) {
            _ = try H5Reader(path: path)  // validates the existing file, with its error if it is damaged
            do { try FileManager.default.copyItem(atPath: path, toPath: temporary) } catch {
                throw H5Error(file: path, "cannot copy to a temporary file: \(error.localizedDescription)")
            }
            id = H5Fopen(temporary, chdf5_acc_rdwr(), H5Library.strongCloseAccess)
        } else {
            id = H5Fcreate(temporary, chdf5_acc_excl(), chdf5_p_default(), H5Library.strongCloseAccess)
        }
        guard id >= 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw H5Error(file: path, "cannot create the temporary file \(temporary)")
        }
        destination = path
        self.output = output
        temporaryPath = temporary
        super.init(fileID: id, displayPath: path)
    }

    deinit {
        if !finished {
            H5Fclose(fileID)
            fileID = -1
            unlink(temporaryPath)
        }
    }

    /// Creates the group at `path` and any missing parents; an existing group is fine.
    public func createGroup(_ path: String) throws {
        guard !exists(path) else {
            guard kind(of: path) == .group else { throw error("\(path) exists and is not a group") }
            return
        }
        let links = intermediateGroupLinks()
        defer { H5Pclose(links) }
        let group = H5Gcreate2(fileID, path, links, chdf5_p_default(), chdf5_p_default())
        guard group >= 0 else { throw error("cannot create group \(path)") }
        H5Gclose(group)
    }

    /// Writes `values` as a dataset of the given shape (row-major; `[]` for a scalar),
    /// creating parent groups and replacing any dataset already at `path`.
    public func write<T: H5Scalar>(_ values: [T], shape: [Int], to path: String,
                                   compression: H5Compression = .automatic) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == values.count else {
            throw error("dataset \(path): \(values.count) values do not fill shape \(shape)")
        }
        try removeIfPresent(path)
        let dims = shape.map { hsize_t($0) }
        let space = dims.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), dims, nil)
        defer { H5Sclose(space) }
        let creation = H5Pcreate(chdf5_p_dataset_create())
        defer { H5Pclose(creation) }
        if let level = gzipLevel(compression, bytes: values.count * MemoryLayout<T>.size), !shape.isEmpty, values.count > 0 {
            var chunk = chunkShape(shape, elementSize: MemoryLayout<T>.size).map { hsize_t($0) }
            H5Pset_chunk(creation, Int32(chunk.count), &chunk)
            H5Pset_shuffle(creation)
            H5Pset_deflate(creation, UInt32(level))
        }
        let links = intermediateGroupLinks()
        defer { H5Pclose(links) }
        let dataset = H5Dcreate2(fileID, path, T.h5NativeType, space, links, creation, chdf5_p_default())
        guard dataset >= 0 else { throw error("cannot create dataset \(path)") }
        defer { H5Dclose(dataset) }
        guard !values.isEmpty else { return }
        let status = values.withUnsafeBytes { raw in
            H5Dwrite(dataset, T.h5NativeType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), raw.baseAddress)
        }
        guard status >= 0 else { throw error("cannot write dataset \(path)") }
    }

    /// Sets (or replaces) an attribute on the group or dataset at `path`; a missing group is created.
    public func setAttribute(_ name: String, _ value: H5AttributeValue, on path: String = "/") throws {
        if path != "/" && !exists(path) { try createGroup(path) }
        let object = try openObject(path)
        defer { H5Oclose(object) }
        if H5Aexists(object, name) > 0 { H5Adelete(object, name) }
        let failure = error("cannot write attribute '\(name)' on \(path)")

        func create(_ type: hid_t, count: Int?) throws -> hid_t {
            var dims = [hsize_t(count ?? 0)]
            let space = count == nil ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil)
            defer { H5Sclose(space) }
            let attribute = H5Acreate2(object, name, type, space, chdf5_p_default(), chdf5_p_default())
            guard attribute >= 0 else { throw failure }
            return attribute
        }
        func writeNumbers<T: H5Scalar>(_ numbers: [T], scalar: Bool) throws {
            let attribute = try create(T.h5NativeType, count: scalar ? nil : numbers.count)
            defer { H5Aclose(attribute) }
            let status = numbers.withUnsafeBytes { H5Awrite(attribute, T.h5NativeType, $0.baseAddress) }
            guard numbers.isEmpty || status >= 0 else { throw failure }
        }
        func writeStrings(_ strings: [String], scalar: Bool) throws {
            let type = variableStringType()
            defer { H5Tclose(type) }
            let attribute = try create(type, count: scalar ? nil : strings.count)
            defer { H5Aclose(attribute) }
            let pointers = strings.map { strdup($0) }
            defer { pointers.forEach { free($0) } }
            guard strings.isEmpty || H5Awrite(attribute, type, pointers) >= 0 else { throw failure }
        }

        switch value {
        case let .string(s): try writeStrings([s], scalar: true)
        case let .strings(s): try writeStrings(s, scalar: false)
        case let .int(i): try writeNumbers([i], scalar: true)
        case let .ints(i): try writeNumbers(i, scalar: false)
        case let .double(d): try writeNumbers([d], scalar: true)
        case let .doubles(d): try writeNumbers(d, scalar: false)
        }
    }

    /// Sets several attributes at once.
    public func setAttributes(_ values: [String: H5AttributeValue], on path: String = "/") throws {
        for (name, value) in values.sorted(by: { $0.key < $1.key }) { try setAttribute(name, value, on: path) }
    }

    /// Removes the object at `path` if there is one.
    public func removeIfPresent(_ path: String) throws {
        guard exists(path) else { return }
        guard H5Ldelete(fileID, path, chdf5_p_default()) >= 0 else { throw error("cannot replace \(path)") }
    }

    /// Flushes, closes and renames the temporary file over the destination.
    public func commit() throws {
        precondition(!finished, "H5Writer committed twice")
        try closeTemporary()
        finished = true
        try output.replace(with: temporaryPath)
    }

    /// Closes the temporary file with everything written and synced to disk, but does not
    /// rename it: the state a crash between writing and renaming leaves behind.
    func closeTemporary() throws {
        guard H5Fflush(fileID, H5F_SCOPE_GLOBAL) >= 0, H5Fclose(fileID) >= 0 else {
            fileID = -1
            unlink(temporaryPath)
            finished = true
            throw error("cannot flush the temporary file \(temporaryPath)")
        }
        fileID = -1
        OutputFile.sync(temporaryPath)
    }

    /// Test hook: behave as if the process died right before the rename.
    func simulateCrashBeforeRename() throws {
        try closeTemporary()
        finished = true
    }

    private func intermediateGroupLinks() -> hid_t {
        let links = H5Pcreate(chdf5_p_link_create())
        H5Pset_create_intermediate_group(links, 1)
        return links
    }

    private func gzipLevel(_ compression: H5Compression, bytes: Int) -> Int? {
        switch compression {
        case .none: return nil
        case let .gzip(level): return max(1, min(9, level))
        case .automatic: return bytes >= Self.compressionThreshold ? 4 : nil
        }
    }

    /// A chunk of about `chunkBytes`: halve the largest dimension until it fits.
    private func chunkShape(_ shape: [Int], elementSize: Int) -> [Int] {
        var chunk = shape.map { max($0, 1) }
        while chunk.reduce(elementSize, *) > Self.chunkBytes,
              let largest = chunk.indices.max(by: { chunk[$0] < chunk[$1] }), chunk[largest] > 1 {
            chunk[largest] = (chunk[largest] + 1) / 2
        }
        return chunk
    }
}
