import Foundation

/// Runs `body` with the asset cache at `folder` (`INTRASLICE_CACHE`), restoring it after.
public func withCache<T>(_ folder: URL, _ body: () throws -> T) rethrows -> T {
    let previous = ProcessInfo.processInfo.environment["INTRASLICE_CACHE"]
    setenv("INTRASLICE_CACHE", folder.path, 1)
    defer { if let previous { setenv("INTRASLICE_CACHE", previous, 1) } else { unsetenv("INTRASLICE_CACHE") } }
    return try body()
}
