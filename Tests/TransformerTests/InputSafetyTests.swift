import Foundation
import ModelIO
import TestSupport
@testable import Transformer
import XCTest

/// Inputs that could hang the tool, loop forever or be used although they changed.
final class InputSafetyTests: XCTestCase {
    func testAFIFOAsAModelOrAConfigIsRefusedInsteadOfBlocking() throws {
        let folder = try makeTemporaryFolder("fifo-model")
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("model.gguf").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try ModelLoader.load(fifo)) { XCTAssertEqual("\($0)", "\(fifo): not a regular file (a FIFO)") }

        let checkpoint = folder.appendingPathComponent("checkpoint")
        try FileManager.default.createDirectory(at: checkpoint, withIntermediateDirectories: true)
        XCTAssertEqual(mkfifo(checkpoint.appendingPathComponent("config.json").path, 0o600), 0)
        XCTAssertThrowsError(try ModelLoader.load(checkpoint.path)) { XCTAssertTrue("\($0)".hasSuffix("config.json: not a regular file (a FIFO)"), "\($0)") }
    }

    func testATokenizerSourceThatPointsAtItselfIsAnErrorNotARecursion() throws {
        let folder = try makeTemporaryFolder("tokenizer-loop")
        defer { try? FileManager.default.removeItem(at: folder) }
        var config = TinyModels.model("llama").config
        config.tokenizerSource = folder.path
        try JSONEncoder().encode(config).write(to: folder.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ModelLoader.tokenizer(folder.path)) { error in
            XCTAssertTrue("\(error)".contains("intraslice_tokenizer_source links more than 8 folders in a row"), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }
    }

    func testARegistryAssetModifiedInTheCacheIsRefusedByName() throws {
        let realCache = AssetCache.root
        let asset = try XCTUnwrap(AssetRegistry.asset(named: "tiny", kind: .text))
        let original = realCache.appendingPathComponent(asset.relativePath)
        try XCTSkipUnless(FileManager.default.fileExists(atPath: original.path), "the tiny text is not cached; run Scripts/fetch-assets.sh")
        let cache = try makeTemporaryFolder("asset-cache")
        defer {
            setenv("INTRASLICE_CACHE", realCache.path, 1)
            try? FileManager.default.removeItem(at: cache)
        }
        setenv("INTRASLICE_CACHE", cache.path, 1)
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
