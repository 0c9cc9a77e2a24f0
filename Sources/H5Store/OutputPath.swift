import Foundation

/// What is at a path. A final symbolic link is reported as a link, never followed: the
/// harness does not replace links, whatever they point to.
enum PathKind: Equatable {
    case absent, regularFile, folder, symbolicLink, fifo, characterDevice, blockDevice, socket, other

    /// `lstat` of `path`; `shownAs` is the path the user gave, for the error.
    static func of(_ path: String, shownAs: String) throws -> PathKind {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return .absent }
            throw OutputError(shownAs, "cannot be examined: \(String(cString: strerror(errno)))")
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regularFile
        case S_IFDIR: return .folder
        case S_IFLNK: return .symbolicLink
        case S_IFIFO: return .fifo
        case S_IFCHR: return .characterDevice
        case S_IFBLK: return .blockDevice
        case S_IFSOCK: return .socket
        default: return .other
        }
    }

    var noun: String {
        switch self {
        case .absent: return "absent"
        case .regularFile: return "a regular file"
        case .folder: return "a folder"
        case .symbolicLink: return "a symbolic link"
        case .fifo: return "a FIFO"
        case .characterDevice: return "a character device"
        case .blockDevice: return "a block device"
        case .socket: return "a socket"
        case .other: return "a special file"
        }
    }
}

/// The checks and clean-up that file and folder outputs share.
enum OutputPath {
    /// `path` made absolute against the current folder, without its trailing slashes, and
    /// split at its last `/`. Purely textual (unlike `URL`, which standardises only some
    /// paths), so the name is exactly what the user wrote: `.`, `..`, or empty for `/`.
    static func split(_ path: String) -> (folder: String, name: String, destination: String) {
        var absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        while absolute.count > 1 && absolute.hasSuffix("/") { absolute.removeLast() }
        let slash = absolute.lastIndex(of: "/")!
        let folder = String(absolute[..<slash])
        return (folder.isEmpty ? "/" : folder, String(absolute[absolute.index(after: slash)...]), absolute)
    }

    /// Checks that the folder `path` goes into exists, is a folder and can be written into.
    static func checkFolder(of path: String, _ folder: String) throws {
        var info = stat()
        guard stat(folder, &info) == 0 else {
            switch errno {
            case ENOENT: throw OutputError(path, "its folder \(folder) does not exist")
            case ENOTDIR: throw OutputError(path, "its folder \(folder) is not a folder (part of that path is a file)")
            default: throw OutputError(path, "its folder \(folder) cannot be examined: \(String(cString: strerror(errno)))")
            }
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw OutputError(path, "its folder \(folder) is not a folder") }
        guard access(folder, W_OK | X_OK) == 0 else { throw OutputError(path, "its folder \(folder) is not writable") }
    }

    /// Removes what killed runs left in `folder` while assembling an output there: the
    /// entries `pidOf` recognises as the harness's own temporary names (it returns the
    /// pid in the name), of the expected kind, whose process is gone. A live process's
    /// entries are its work in progress and stay; failures are ignored, as the leftovers
    /// only cost space.
    static func removeLeftovers(in folder: String, kind: PathKind, pidOf: (String) -> pid_t?) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for entry in entries {
            guard let pid = pidOf(entry), !isAlive(pid) else { continue }
            let path = (folder as NSString).appendingPathComponent(entry)
            guard (try? PathKind.of(path, shownAs: path)) == kind else { continue }
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    static func isDigits(_ text: Substring) -> Bool {
        !text.isEmpty && text.allSatisfy { ("0"..."9").contains($0) }
    }

    /// The pid written in a temporary name: all digits, positive and in range.
    static func pid(_ digits: Substring) -> pid_t? {
        guard isDigits(digits), let pid = pid_t(digits), pid > 0 else { return nil }
        return pid
    }

    /// Signal 0 checks existence without sending anything; EPERM means it exists but
    /// belongs to someone else.
    static func isAlive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }
}
