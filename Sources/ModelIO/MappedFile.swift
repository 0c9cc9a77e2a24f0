#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory. Model files are large and read once,
/// mostly sequentially; mapping them lets the kernel page them in on demand and share
/// the pages, instead of copying hundreds of megabytes into the heap.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    /// Size of the file in bytes (never 0: an empty file is rejected).
    public let count: Int
    /// Start of the mapping. Valid until the object is deallocated.
    public let base: UnsafeRawPointer

    public init(path: String) throws {
        self.path = path
        let (fd, size) = try RegularFile.open(path)
        defer { close(fd) }
        guard size > 0 else { throw ModelFileError(path: path, message: "empty file") }
        guard let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), pointer != MAP_FAILED else {
            throw ModelFileError(path: path, message: "cannot map into memory: \(String(cString: strerror(errno)))")
        }
        count = size
        base = UnsafeRawPointer(pointer)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), count)
    }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Drops the pages read so far from this process's resident memory (they stay in the
    /// page cache and are read again on the next access). A streamed model calls this after
    /// converting each layer, so that a mapped 13 GB checkpoint never counts against the
    /// memory budget for more than the layer in hand.
    public func releasePages() {
        madvise(UnsafeMutableRawPointer(mutating: base), count, Int32(MADV_DONTNEED))
    }

    /// Drops the pages of bytes `offset..<offset + length` (and of the rest of the first
    /// page they touch) the same way, so that a tensor being converted never has its whole
    /// source resident beside its converted copy.
    public func releasePages(offset: Int, length: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page, end = min(count, offset + length)
        guard end > start else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Int32(MADV_DONTNEED))
    }
}
