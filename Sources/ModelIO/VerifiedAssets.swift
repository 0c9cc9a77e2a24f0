import Foundation
import H5Store

/// Checks a registry asset against its pinned SHA-256 each time it is used by name, so a
/// cached model or task file modified after it was fetched is never used silently. Hashing
/// a model takes seconds, so a file once verified is remembered by its identity (device,
/// inode, size, modification and status-change times, which any write or replacement
/// changes) in a stamp file beside the cache's assets; a file whose identity differs is
/// hashed again.
enum VerifiedAssets {
    static var stampFolder: URL { AssetCache.root.appendingPathComponent(".verified", isDirectory: true) }

    static func check(_ asset: Asset) throws {
        let path = asset.url.path
        guard let identity = FileIdentity(path: path) else { return try asset.verify() }
        let stamp = stampFolder.appendingPathComponent(asset.id)
        let expected = "\(identity.text) \(asset.sha256)\n"
        if let recorded = try? String(contentsOf: stamp, encoding: .utf8), recorded == expected { return }
        try asset.verify()
        // Recorded only if the file did not change while it was hashed; a cache that cannot
        // be written to only means hashing again next time.
        guard FileIdentity(path: path) == identity else { return }
        try? FileManager.default.createDirectory(at: stampFolder, withIntermediateDirectories: true)
        let temporary = stampFolder.appendingPathComponent(".\(asset.id).tmp-\(getpid())")
        if (try? Data(expected.utf8).write(to: temporary)) != nil {
            if rename(temporary.path, stamp.path) != 0 { unlink(temporary.path) }
        }
    }
}

/// What changes whenever a file's contents could have: `stat`'s device, inode, size and
/// modification and status-change times (the latter cannot be set back by a user).
struct FileIdentity: Equatable {
    let text: String

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        text = [UInt64(info.st_dev), UInt64(info.st_ino), UInt64(info.st_size),
                UInt64(info.st_mtim.tv_sec), UInt64(info.st_mtim.tv_nsec),
                UInt64(info.st_ctim.tv_sec), UInt64(info.st_ctim.tv_nsec)].map(String.init).joined(separator: " ")
    }
}
