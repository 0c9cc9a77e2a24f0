import Foundation
import ModelIO
import TestSupport
import XCTest

/// A registry asset is used by name only while it has its pinned hash: a model or task
/// file modified in the cache after it was fetched is refused, however it was modified.
extension AssetRegistryTests {
    func testARegistryAssetModifiedInTheCacheIsRefusedByName() throws {
        let asset = try XCTUnwrap(AssetRegistry.asset(named: "tiny", kind: .text))
        let original = AssetCache.root.appendingPathComponent(asset.relativePath)
        try XCTSkipUnless(FileManager.default.fileExists(atPath: original.path), "the tiny text is not cached; run Scripts/fetch-assets.sh")
        let cache = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cache) }
        try withCache(cache) {
            let copy = cache.appendingPathComponent(asset.relativePath)
            try FileManager.default.createDirectory(at: copy.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: original, to: copy)

            XCTAssertEqual(try AssetRegistry.resolve("tiny", kind: .text).path, copy.path)
            XCTAssertTrue(FileManager.default.fileExists(atPath: cache.appendingPathComponent(".verified/tiny").path), "verified once, remembered")
            XCTAssertNoThrow(try AssetRegistry.resolve("tiny", kind: .text))

            // One byte changed in place, same size: the file's identity changed, so it is hashed again.
            var bytes = try Data(contentsOf: copy)
            bytes[bytes.count / 2] ^= 1
            try bytes.write(to: copy)
            XCTAssertThrowsError(try AssetRegistry.resolve("tiny", kind: .text)) { error in
                XCTAssertTrue("\(error)".hasPrefix("\(copy.path): SHA-256 mismatch (expected \(asset.sha256)"), "\(error)")
            }
        }
    }
}
