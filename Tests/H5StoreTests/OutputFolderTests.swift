@testable import H5Store
import TestSupport
import XCTest

/// `OutputFolder`'s rule: a folder output never replaces an existing path without
/// `overwrite`, and with it only a folder intraslice wrote. Every case runs in a temporary
/// folder on things made there (the current and home folders are tested through the
/// command line, run from a temporary folder: `OutputSafetyTests`).
final class OutputFolderTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try makeTemporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// `OutputFolder(path, overwrite:)` throws `path: problem`, and `unchanged` (by default
    /// `path`) is left as it was.
    func assertRefused(_ path: String, overwrite: Bool, _ problem: String, unchanged: String? = nil,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let watched = unchanged ?? path
        let before = try? PathSnapshot(watched)
        XCTAssertThrowsError(try OutputFolder(path, overwrite: overwrite), file: file, line: line) { error in
            XCTAssertEqual(error as? OutputError, OutputError(path, problem), file: file, line: line)
        }
        XCTAssertEqual(try? PathSnapshot(watched), before, "left as it was", file: file, line: line)
    }

    let notOurs = "is not a folder intraslice wrote (a config.json with intraslice_pruned_layers or a synth.json with "
        + "intraslice_synth_version, and nothing but config.json, model-NNNNN-of-NNNNN.safetensors, model.safetensors, "
        + "model.safetensors.index.json, pruning.json, statistics.h5, synth.json, tokenizer.json), so it is not replaced"

    func testANewFolderIsAssembledUnderAPartialNameAndMovedIntoPlace() throws {
        let output = try OutputFolder(path("model"), overwrite: false)
        try output.assemble { partial in
            XCTAssertEqual(partial, path(".model.\(getpid()).partial"))
            try Data("w".utf8).write(to: URL(fileURLWithPath: partial).appendingPathComponent("model.safetensors"))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["model"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("model")), ["model.safetensors"])
    }

    func testAnyExistingPathIsRefusedWithoutOverwrite() throws {
        try makeHarnessFolder(path("pruned"))
        try FileManager.default.createDirectory(atPath: path("empty"), withIntermediateDirectories: false)
        try Data("kept".utf8).write(to: folder.appendingPathComponent("file"))
        try FileManager.default.createSymbolicLink(atPath: path("dangling"), withDestinationPath: "missing")
        for name in ["pruned", "empty", "file", "dangling"] {
            try assertRefused(path(name), overwrite: false, "already exists (pass --overwrite to replace a folder intraslice wrote)")
        }
    }

    func testOverwriteReplacesAFolderIntrasliceWrote() throws {
        try makeHarnessFolder(path("pruned"))
        let output = try OutputFolder(path("pruned"), overwrite: true)
        try output.assemble { partial in
            try Data("new".utf8).write(to: URL(fileURLWithPath: partial).appendingPathComponent("model.safetensors"))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("pruned")), ["model.safetensors"])
        XCTAssertEqual(try String(contentsOfFile: path("pruned/model.safetensors"), encoding: .utf8), "new")
    }

    /// What `synth` writes: sharded weights, their index and `synth.json` with its key.
    func makeSynthFolder(_ path: String, shards: [String], record: String = #"{"intraslice_synth_version": 1}"#) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        for (name, text) in [("config.json", #"{"model_type": "llama"}"#), ("model.safetensors.index.json", "{}"), ("synth.json", record)]
            + shards.map({ ($0, "weights") }) {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path).appendingPathComponent(name))
        }
    }

    func testOverwriteReplacesASyntheticCheckpointWithItsShards() throws {
        try makeSynthFolder(path("synth"), shards: ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
        try OutputFolder(path("synth"), overwrite: true).assemble { _ in }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("synth")), [])
    }

    func testOverwriteRefusesShardsOfOtherNamesAndASynthRecordWithoutItsKey() throws {
        try makeSynthFolder(path("odd"), shards: ["model-1-of-2.safetensors"])
        try assertRefused(path("odd"), overwrite: true, notOurs)
        try makeSynthFolder(path("other"), shards: ["pytorch_model-00001-of-00002.bin"])
        try assertRefused(path("other"), overwrite: true, notOurs)
        try makeSynthFolder(path("unmarked"), shards: ["model-00001-of-00002.safetensors"], record: #"{"seed": 0}"#)
        try assertRefused(path("unmarked"), overwrite: true, notOurs)
    }

    func testOverwriteRefusesAFolderHoldingAFileIntrasliceDoesNotWrite() throws {
        try makeHarnessFolder(path("pruned"), extra: ["notes.txt"])
        try assertRefused(path("pruned"), overwrite: true, notOurs)
    }

    func testOverwriteRefusesAFolderHoldingASubfolder() throws {
        try makeHarnessFolder(path("pruned"))
        try FileManager.default.createDirectory(atPath: path("pruned/statistics.h5"), withIntermediateDirectories: false)
        try assertRefused(path("pruned"), overwrite: true, notOurs)
    }

    func testOverwriteRefusesACheckpointWithoutTheHarnessKey() throws {
        try FileManager.default.createDirectory(atPath: path("hf"), withIntermediateDirectories: false)
        try Data(#"{"model_type": "llama"}"#.utf8).write(to: folder.appendingPathComponent("hf/config.json"))
        try Data("weights".utf8).write(to: folder.appendingPathComponent("hf/model.safetensors"))
        try assertRefused(path("hf"), overwrite: true, notOurs)
    }

    func testOverwriteRefusesAnEmptyFolder() throws {
        try FileManager.default.createDirectory(atPath: path("empty"), withIntermediateDirectories: false)
        try assertRefused(path("empty"), overwrite: true, notOurs)
    }

    func testOverwriteRefusesARepositoryLikeFolder() throws {
        try makeHarnessFolder(path("repo"), extra: ["Package.swift", "README.md"])
        try FileManager.default.createDirectory(atPath: path("repo/.git"), withIntermediateDirectories: false)
        try assertRefused(path("repo"), overwrite: true, notOurs)
    }

    func testOverwriteRefusesASymbolicLinkToAFolderIntrasliceWrote() throws {
        try makeHarnessFolder(path("pruned"))
        try FileManager.default.createSymbolicLink(atPath: path("link"), withDestinationPath: "pruned")
        let target = try PathSnapshot(path("pruned"))
        try assertRefused(path("link"), overwrite: true, "is a symbolic link, not a folder intraslice wrote, so it is not replaced")
        XCTAssertEqual(try PathSnapshot(path("pruned")), target)
    }

    func testOverwriteRefusesARegularFileAFIFOAndADeviceNode() throws {
        try Data("kept".utf8).write(to: folder.appendingPathComponent("file"))
        try makeFIFO(path("fifo"))
        try assertRefused(path("file"), overwrite: true, "is a regular file, not a folder intraslice wrote, so it is not replaced")
        try assertRefused(path("fifo"), overwrite: true, "is a FIFO, not a folder intraslice wrote, so it is not replaced")
        try makeDeviceNode(path("null"))
        try assertRefused(path("null"), overwrite: true, "is a character device, not a folder intraslice wrote, so it is not replaced")
    }

    func testAnEmptyPathTheRootAndDotNamesAreRefused() throws {
        try assertRefused("", overwrite: true, "an empty path names no folder", unchanged: folder.path)
        try assertRefused("/", overwrite: true, "is the root folder", unchanged: folder.path)
        try makeHarnessFolder(path("pruned"))
        try assertRefused(path("pruned") + "/.", overwrite: true, "ends in ., so it names no folder of its own")
        try assertRefused(path("pruned/x") + "/..", overwrite: true, "ends in .., so it names no folder of its own")
    }

    func testAFailedAssemblyKeepsTheOldFolderAndLeavesNoPartialFolder() throws {
        try makeHarnessFolder(path("pruned"))
        let before = try PathSnapshot(path("pruned"))
        struct Failure: Error {}
        XCTAssertThrowsError(try OutputFolder(path("pruned"), overwrite: true).assemble { _ in throw Failure() })
        XCTAssertEqual(try PathSnapshot(path("pruned")), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["pruned"])
    }

    func testTheDestinationIsCheckedAgainBeforeTheRename() throws {
        let output = try OutputFolder(path("model"), overwrite: true)
        try makeHarnessFolder(path("model"), extra: ["added-meanwhile.txt"])
        let before = try PathSnapshot(path("model"))
        XCTAssertThrowsError(try output.assemble { _ in }) { XCTAssertEqual($0 as? OutputError, OutputError(path("model"), notOurs)) }
        XCTAssertEqual(try PathSnapshot(path("model")), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["model"])
    }

    /// Only `.<name>.<pid>.partial` folders of this destination whose pid is gone.
    func testADeadRunsPartialFolderIsRemovedAndALiveRunsIsKept() throws {
        let dead = try deadProcessID(), live = getpid()
        let fm = FileManager.default
        let removed = ".model.\(dead).partial"
        let kept = [".model.\(live).partial", ".other.\(dead).partial", ".model.\(dead).partial.keep", "model.\(dead).partial",
                    ".model.x\(dead).partial", ".model.0.partial"]
        for name in [removed] + kept {
            try fm.createDirectory(atPath: path(name), withIntermediateDirectories: false)
            try Data("weights".utf8).write(to: folder.appendingPathComponent(name + "/model.safetensors"))
        }
        let deadFile = ".model.\(try deadProcessID()).partial"
        try Data("a file, not a folder".utf8).write(to: folder.appendingPathComponent(deadFile))
        _ = try OutputFolder(path("model"), overwrite: false)
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: folder.path).sorted(), (kept + [deadFile]).sorted())
    }
}
