import Foundation

/// A file a command writes (`--output RUN.h5`, `tokenize --output IDS`, a report table),
/// checked before any work is done and written atomically.
///
/// The rule: the path's folder must exist and be writable, and the path must be absent or
/// a writable regular file, which is then replaced. Anything else is refused: a folder, a
/// FIFO, a device, a socket, and a symbolic link whatever it points to (renaming over a
/// link would replace the link, not its target; give the target's path instead).
///
/// The file is assembled as `.<name>.tmp-<pid>-<random>` beside the destination and
/// renamed over it when complete. Those a killed run left are removed by the next
/// `OutputFile` for the same path, once their process is gone.
public struct OutputFile {
    /// As the user gave it.
    public let path: String
    let folder: String
    let name: String
    let destination: String

    /// Checks `path` and removes the leftovers of dead runs to it.
    public init(_ path: String) throws {
        self.path = path
        (folder, name, destination) = try Self.check(path)
        OutputPath.removeLeftovers(in: folder, kind: .regularFile) { Self.pid(ofTemporary: $0, for: name) }
    }

    static func check(_ path: String) throws -> (folder: String, name: String, destination: String) {
        guard !path.isEmpty else { throw OutputError(path, "an empty path names no file") }
        guard !path.hasSuffix("/") else { throw OutputError(path, "ends in /, so it names a folder; a file is expected") }
        let (folder, name, destination) = OutputPath.split(path)
        try OutputPath.checkFolder(of: path, folder)
        switch try PathKind.of(destination, shownAs: path) {
        case .absent: break
        case .regularFile:
            guard access(destination, W_OK) == 0 else { throw OutputError(path, "is read-only") }
        case let kind:
            throw OutputError(path, "is \(kind.noun); only a regular file is replaced")
        }
        return (folder, name, destination)
    }

    /// A fresh name beside the destination to assemble the file under.
    public func temporaryPath() -> String {
        (folder as NSString).appendingPathComponent(".\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    static func pid(ofTemporary entry: String, for name: String) -> pid_t? {
        let prefix = ".\(name).tmp-"
        guard entry.hasPrefix(prefix) else { return nil }
        let parts = entry.dropFirst(prefix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, OutputPath.isDigits(parts[1]) else { return nil }
        return OutputPath.pid(parts[0])
    }

    /// Renames the finished `temporary` file over the destination, after checking the
    /// destination once more (a long run gives it time to change). On failure the
    /// temporary file is removed.
    public func replace(with temporary: String) throws {
        do {
            _ = try Self.check(path)
            guard rename(temporary, destination) == 0 else {
                throw OutputError(path, "cannot move the finished file into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Writes `data` to a temporary file, syncs it and renames it over the destination.
    public func write(_ data: Data) throws {
        let temporary = temporaryPath()
        do { try data.write(to: URL(fileURLWithPath: temporary), options: .withoutOverwriting) } catch {
            unlink(temporary)
            throw OutputError(path, "cannot write \(temporary): \(error.localizedDescription)")
        }
        Self.sync(temporary)
        try replace(with: temporary)
    }

    /// Flushes a closed file's data to disk, so that the rename never exposes an empty file after a crash.
    static func sync(_ path: String) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }
}
