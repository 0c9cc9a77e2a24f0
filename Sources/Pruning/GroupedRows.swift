import Foundation
import LinAlg

/// Where a prune keeps calibration activations that would not fit in its memory budget: a
/// folder (the output's parent), in which each spilled `GroupedRows` is a file created
/// exclusively and unlinked at once, so it has no name while it is used and its space is
/// returned when the run ends, however it ends.
public struct SpillArea: Sendable {
    public let folder: URL

    public init(folder: URL) { self.folder = folder }
}

/// Calibration activations of one kind (the stream entering a layer, the inputs of one
/// projection), one row matrix per group of calibration sequences: in memory, or, when the
/// run spills, in a file from which each group is read when it is used, so that a method
/// holds one group of each kind at a time.
public struct GroupedRows {
    private enum Storage {
        case memory([Matrix<Float>])
        case file(SpillFile, [(offset: Int, rows: Int, cols: Int)])
    }

    private let storage: Storage

    /// Groups held in memory.
    public init(_ groups: [Matrix<Float>]) { storage = .memory(groups) }

    /// `count` groups made one at a time by `make`, each written to a file in `spill` as it
    /// is made (in memory without one).
    public init(count: Int, spill: SpillArea?, _ make: (Int) throws -> Matrix<Float>) throws {
        guard let spill else {
            storage = .memory(try (0..<count).map(make))
            return
        }
        let file = try SpillFile(in: spill.folder)
        var layout: [(offset: Int, rows: Int, cols: Int)] = []
        for g in 0..<count {
            let group = try make(g)
            layout.append((file.size, group.rows, group.cols))
            try file.append(group.elements)
        }
        storage = .file(file, layout)
    }

    public var count: Int {
        switch storage {
        case .memory(let groups): groups.count
        case .file(_, let layout): layout.count
        }
    }

    public var indices: Range<Int> { 0..<count }

    /// Whether the groups are in a spill file.
    public var isSpilled: Bool { if case .file = storage { true } else { false } }

    /// Group `g` (read back from the spill file when spilled).
    public func group(_ g: Int) throws -> Matrix<Float> {
        switch storage {
        case .memory(let groups): return groups[g]
        case .file(let file, let layout):
            let (offset, rows, cols) = layout[g]
            return Matrix(rows: rows, cols: cols, elements: try file.read(count: rows * cols, at: offset))
        }
    }

    /// The rows of group `g`, without reading a spilled group.
    public func rows(_ g: Int) -> Int {
        switch storage {
        case .memory(let groups): groups[g].rows
        case .file(_, let layout): layout[g].rows
        }
    }

    /// Rows in all groups.
    public var rowCount: Int { indices.reduce(0) { $0 + rows($1) } }

    /// `transform` of every group, stored the same way (spilled to `spill`, or in memory).
    public func map(spill: SpillArea?, _ transform: (Matrix<Float>) throws -> Matrix<Float>) throws -> GroupedRows {
        try GroupedRows(count: count, spill: spill) { try transform(group($0)) }
    }
}

/// An unnamed temporary file that grows by appends and is read at offsets.
private final class SpillFile {
    private let descriptor: Int32
    private(set) var size = 0

    init(in folder: URL) throws {
        var template = Array(folder.appendingPathComponent(".intraslice-spill-XXXXXX").path.utf8CString)
        descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw PruningError("\(folder.path): cannot create a file to spill calibration activations: \(String(cString: strerror(errno)))")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    }

    deinit { close(descriptor) }

    func append(_ values: [Float]) throws {
        try values.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = pwrite(descriptor, raw.baseAddress! + done, raw.count - done, off_t(size + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw PruningError("cannot spill calibration activations (\(size + done) bytes written): \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
        size += values.count * MemoryLayout<Float>.stride
    }

    func read(count: Int, at offset: Int) throws -> [Float] {
        try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var done = 0
            while done < raw.count {
                let n = pread(descriptor, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw PruningError("cannot read back spilled calibration activations: \(n == 0 ? "the file is shorter than written" : String(cString: strerror(errno)))")
                }
                done += n
            }
            initialized = count
        }
    }
}
