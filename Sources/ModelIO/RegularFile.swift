import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads inputs without ever blocking on them: a path that names a FIFO, a socket or a
/// device would make a plain `open` or `FileManager.contents` wait forever for a writer
/// (or read without end), so every input file is opened non-blocking and must turn out
/// to be a regular file before a byte is read.
public enum RegularFile {
    /// The whole file's bytes.
    public static func read(_ path: String) throws -> Data {
        let (fd, _) = try open(path)
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelFileError(path: path, message: "cannot read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return data }
            data.append(buffer, count: n)
        }
    }

    /// An open read-only descriptor of `path` and the file's size, refused unless it is a
    /// regular file.
    public static func open(_ path: String) throws -> (fd: Int32, size: Int) {
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw ModelFileError(path: path, message: "cannot open: \(String(cString: strerror(errno)))") }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ModelFileError(path: path, message: "cannot stat: \(reason)")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ModelFileError(path: path, message: "not a regular file (\(kindName(info.st_mode)))")
        }
        return (fd, Int(info.st_size))
    }

    /// What a non-regular file is, for messages.
    public static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file"
        }
    }
}
