import Foundation

/// A `flock` on a lock file, released by `release()` or when the process ends however it
/// ends: a cell's (exclusive, never waited for) and a stored pruned model's (exclusive
/// while it is made or deleted, shared while a cell uses it).
final class FileLock {
    private let descriptor: Int32

    /// nil when `wait` is false and another process holds a conflicting lock (or the file
    /// cannot be opened).
    init?(_ file: URL, shared: Bool = false, wait: Bool = false) {
        let fd = open(file.path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        var result: Int32
        repeat { result = flock(fd, (shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB)) } while result != 0 && errno == EINTR
        guard result == 0 else {
            close(fd)
            return nil
        }
        descriptor = fd
    }

    /// Turns an exclusive lock into a shared one. Not atomic (`flock(2)`): whoever holds it
    /// must check afterwards that what it guards is still there.
    func share() {
        while flock(descriptor, LOCK_SH) != 0 && errno == EINTR {}
    }

    func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
