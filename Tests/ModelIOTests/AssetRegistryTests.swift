import Foundation
import H5Store
import ModelIO
import TestSupport
import XCTest


/// Sets INTRASLICE_CACHE for the duration of `body`.
func temporaryFolder() throws -> URL { try makeTemporaryFolder("modelio") }

final class AssetRegistryTests: XCTestCase {
    /// (cache_path, sha256, group) of every row of Scripts/assets.tsv.
    func manifestRows() throws -> [(path: String, sha256: String, group: String)] {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Scripts/assets.tsv"), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.hasPrefix("id\t") }.map { line in
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return (columns[2], columns[3], columns[1])
        }
    }

    func testRegistryAgreesWithTheFetchManifest() throws {
        let rows = try manifestRows()
        XCTAssertEqual(rows.count, AssetRegistry.all.count, "every manifest row has a registry entry and vice versa")
        for asset in AssetRegistry.all {
            let row = try XCTUnwrap(rows.first { $0.path == asset.relativePath }, "\(asset.id) is not in Scripts/assets.tsv")
            XCTAssertEqual(row.sha256, asset.sha256, asset.id)
            XCTAssertEqual(row.group == "core", asset.fetchFlag == nil, "\(asset.id): fetch flag and manifest group disagree")
            if let flag = asset.fetchFlag { XCTAssertEqual(flag, "--with-\(row.group)") }
        }
        XCTAssertEqual(AssetRegistry.assets(of: .task).count, 8)
    }

    func testNamesResolveIntoTheCacheAndPathsAreAccepted() throws {
        let cache = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cache) }
        try withCache(cache) {
            // Not fetched yet: the error says how to fetch it, including the flag.
            XCTAssertThrowsError(try AssetRegistry.resolve("gemma3-270m", kind: .model)) { error in
                XCTAssertTrue(String(describing: error).contains("run Scripts/fetch-assets.sh --with-gemma"), "\(error)")
            }
            let model = cache.appendingPathComponent("models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf")
            try FileManager.default.createDirectory(at: model.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data([1, 2, 3]).write(to: model)
            // By name only with its pinned hash (AssetVerificationTests); an alias names the same asset.
            XCTAssertThrowsError(try AssetRegistry.resolve("smollm2", kind: .model)) { error in
                XCTAssertTrue("\(error)".hasPrefix("\(model.path): SHA-256 mismatch"), "\(error)")
            }
            XCTAssertEqual(AssetRegistry.asset(named: "smollm2", kind: .model)?.id, "smollm2-135m")
            // A path is taken as it is.
            let resolved = try AssetRegistry.resolve(model.path, kind: .model)
            XCTAssertNil(resolved.asset)
            // Neither a name nor a path.
            XCTAssertThrowsError(try AssetRegistry.resolve("", kind: .text), "an empty name is not the current folder") { error in
                XCTAssertTrue("\(error)".hasPrefix("no text named ''"), "\(error)")
            }
            XCTAssertThrowsError(try AssetRegistry.resolve("llama-9000", kind: .model)) { error in
                XCTAssertEqual(String(describing: error),
                               "no model named 'llama-9000' and no such file or folder; known models: smollm2-135m, gemma3-270m, qwen2.5-0.5b, qwen2.5-1.5b")
            }
            // A cached file with the wrong content fails verification with both hashes named.
            XCTAssertThrowsError(try AssetRegistry.asset(named: "smollm2-135m", kind: .model)!.verify()) { error in
                let text = String(describing: error)
                XCTAssertTrue(text.contains("SHA-256 mismatch (expected b179c952"), text)
                XCTAssertTrue(text.contains("got 039058c6"), text)
            }
        }
    }

    func testCachedAssetsMatchTheirPinnedHashes() throws {
        // Real files: run after Scripts/fetch-assets.sh (Scripts/test.sh does it).
        let cached = AssetRegistry.all.filter(\.isPresent)
        guard !cached.isEmpty else { throw XCTSkip("no asset is cached; run Scripts/fetch-assets.sh") }
        for asset in cached where asset.kind != .model || asset.id == "smollm2-135m" {
            XCTAssertNoThrow(try asset.verify(), asset.id)
        }
    }
}

/// The setup script's own hash check, run as a user runs it.
final class FetchScriptTests: XCTestCase {
    func runFetchScript(_ arguments: [String], cache: URL) throws -> (status: Int32, stderr: String) {
        let result = try runProgram("/bin/bash", [repositoryRoot.appendingPathComponent("Scripts/fetch-assets.sh").path] + arguments,
                                    environment: ["INTRASLICE_CACHE": cache.path])
        return (result.status, result.stderr)
    }

    func testCorruptedCachedFileIsRejectedWithAClearMessage() throws {
        let cache = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cache) }
        // A stand-in for the SmolLM2 checkpoint whose bytes are not the pinned ones.
        let model = cache.appendingPathComponent("models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf")
        try FileManager.default.createDirectory(at: model.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("GGUF but corrupted".utf8).write(to: model)
        let result = try runFetchScript(["--verify-only"], cache: cache)
        XCTAssertNotEqual(result.status, 0)
        let line = try XCTUnwrap(result.stderr.split(separator: "\n").first { $0.contains(model.path) }, result.stderr)
        XCTAssertTrue(line.contains("SHA-256 mismatch"), String(line))
        XCTAssertTrue(line.contains("expected b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"), String(line))
        XCTAssertTrue(line.contains(SHA256.hex(of: Data("GGUF but corrupted".utf8))), String(line))
        // The corrupted file is reported, never silently accepted or replaced in verify-only mode.
        XCTAssertEqual(try Data(contentsOf: model), Data("GGUF but corrupted".utf8))
    }

    func testUnknownOptionIsRefused() throws {
        let cache = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cache) }
        let result = try runFetchScript(["--frobnicate"], cache: cache)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("unknown option '--frobnicate'"), result.stderr)
    }
}
