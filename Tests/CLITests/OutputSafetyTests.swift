import Foundation
import H5Store
import ModelIO
import TestSupport
import XCTest

/// Every command that writes checks its output before it loads a model or computes
/// anything, and replaces only a regular file or a folder intraslice wrote. Each refusal
/// is one `error: <path>: <problem>` line, and what is at the path is left exactly as it
/// was. Everything runs in a temporary folder, on things made there; the commands given
/// the current or home folder run with a temporary folder as both.
final class OutputSafetyTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try makeTemporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// A model that does not exist: a command that got as far as loading it would say so.
    var missingModel: String { path("no-such-model.gguf") }

    /// Every command with a file `--output`, none of which gets far enough to need its inputs.
    func fileCommands(_ output: String) -> [[String]] {
        [
            ["eval", "ppl", "--model", missingModel, "--output", output],
            ["eval", "zeroshot", "--model", missingModel, "--tasks", "piqa", "--output", output],
            ["eval", "run", "--model", missingModel, "--ppl", "wikitext2", "--output", output],
            ["bench", "latency", "--model", missingModel, "--output", output],
            ["bench", "gemm", "--size", "8", "--repeats", "1", "--warmup", "0", "--output", output],
            ["tokenize", "--model", missingModel, "--input", path("no-such-text"), "--output", output],
            ["report", "ppl-table", path("no-such-grid"), "--output", output],
            ["report", "speedup", path("no-such-grid"), "--output", output],
        ]
    }

    /// Every command with a folder `--output`.
    func folderCommands(_ output: String, overwrite: Bool) -> [[String]] {
        let flag = overwrite ? ["--overwrite"] : []
        return [["prune", "--method", "magnitude", "--ratio", "0.2", "--model", missingModel, "--output", output] + flag,
                ["export", "--model", missingModel, "--output", output] + flag,
                ["synth", "--shape", "llama-2-7b", "--tokenizer", missingModel, "--output", output] + flag]
    }

    /// Runs `arguments` and asserts the refusal: non-zero exit, stderr exactly
    /// `error: <output>: <problem>`, and the paths in `unchanged` (by default the absolute
    /// `output`) left as they were. The command runs in `directory`, by default the test's
    /// temporary folder, never the real current folder.
    func assertRefused(_ arguments: [String], output: String, _ problem: String, unchanged: [String]? = nil,
                       environment: [String: String] = [:], in directory: URL? = nil,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let watched = unchanged ?? [output]
        let before = watched.map { try? PathSnapshot($0) }
        let result = try runProgram(CLITests.executable, arguments, environment: environment, in: directory ?? folder)
        let command = arguments.prefix(2).joined(separator: " ")
        XCTAssertNotEqual(result.status, 0, command, file: file, line: line)
        XCTAssertEqual(result.stderr, "error: \(OutputError(output, problem))\n", command, file: file, line: line)
        XCTAssertEqual(watched.map { try? PathSnapshot($0) }, before, "\(command): left as it was", file: file, line: line)
    }

    // MARK: file outputs

    func testFileOutputsRefuseAFolderBeforeLoadingTheModel() throws {
        try FileManager.default.createDirectory(atPath: path("results.h5"), withIntermediateDirectories: false)
        try Data("kept".utf8).write(to: folder.appendingPathComponent("results.h5/inside"))
        for command in fileCommands(path("results.h5")) {
            try assertRefused(command, output: path("results.h5"), "is a folder; only a regular file is replaced")
        }
    }

    func testFileOutputsRefuseAFIFOBeforeLoadingTheModel() throws {
        try makeFIFO(path("fifo"))
        for command in fileCommands(path("fifo")) {
            try assertRefused(command, output: path("fifo"), "is a FIFO; only a regular file is replaced")
        }
    }

    func testFileOutputsRefuseADeviceNodeBeforeLoadingTheModel() throws {
        try makeDeviceNode(path("null"))
        for command in fileCommands(path("null")) {
            try assertRefused(command, output: path("null"), "is a character device; only a regular file is replaced")
        }
    }

    func testFileOutputsRefuseASocketBeforeLoadingTheModel() throws {
        let descriptor = try makeSocket(path("socket"))
        defer { close(descriptor) }
        for command in fileCommands(path("socket")) {
            try assertRefused(command, output: path("socket"), "is a socket; only a regular file is replaced")
        }
    }

    func testFileOutputsRefuseASymbolicLinkWhateverItPointsTo() throws {
        try Data("target".utf8).write(to: folder.appendingPathComponent("file"))
        try makeFIFO(path("fifo"))
        for (link, target) in [("to-file", "file"), ("to-fifo", "fifo"), ("dangling", "missing")] {
            try FileManager.default.createSymbolicLink(atPath: path(link), withDestinationPath: target)
            for command in fileCommands(path(link)) {
                try assertRefused(command, output: path(link), "is a symbolic link; only a regular file is replaced",
                                  unchanged: [path(link), path(target)])
            }
        }
    }

    func testFileOutputsRefuseAMissingFolderAFileAsFolderATrailingSlashAndAnEmptyPath() throws {
        try Data("kept".utf8).write(to: folder.appendingPathComponent("plain"))
        let cases = [(path("missing/run.h5"), "its folder \(path("missing")) does not exist"),
                     (path("plain/run.h5"), "its folder \(path("plain")) is not a folder"),
                     (path("new") + "/", "ends in /, so it names a folder; a file is expected"),
                     ("", "an empty path names no file")]
        for (output, problem) in cases {
            for command in fileCommands(output) {
                try assertRefused(command, output: output, problem, unchanged: [folder.path])
            }
        }
    }

    func testEvaluationsRefuseAResumeLogThatIsNotARegularFile() throws {
        try makeFIFO(path("run.h5.resume.jsonl"))
        for command in fileCommands(path("run.h5")) where command[0] == "eval" {
            try assertRefused(command, output: path("run.h5.resume.jsonl"), "is a FIFO; only a regular file is replaced")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run.h5")))
    }

    /// Only `.<name>.tmp-<pid>-<number>` of the same destination whose process is gone.
    func testATemporaryFileOfADeadRunIsRemovedByTheNextRunToTheSameFileAndALiveRunsIsKept() throws {
        let dead = try deadProcessID()
        let removed = ".gemm.h5.tmp-\(dead)-17", kept = [".gemm.h5.tmp-\(getpid())-18", ".other.h5.tmp-\(dead)-19"]
        for name in [removed] + kept { try Data("partial".utf8).write(to: folder.appendingPathComponent(name)) }
        let result = try runProgram(CLITests.executable, ["bench", "gemm", "--size", "8", "--repeats", "1", "--warmup", "0",
                                                          "--output", path("gemm.h5")], in: folder)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted(), (kept + ["gemm.h5"]).sorted())
    }

    // MARK: folder outputs

    func testFolderOutputsRefuseTheCurrentAndHomeFoldersTheirParentsTheRootAndEmptyBeforeLoadingTheModel() throws {
        let home = path("home"), work = path("work")
        try makeHarnessFolder(home)
        try makeHarnessFolder(work)
        let cases = [(".", "ends in ., so it names no folder of its own"), ("./", "ends in ., so it names no folder of its own"),
                     ("..", "ends in .., so it names no folder of its own"),
                     ("../work", "is the current folder or contains it"), (work, "is the current folder or contains it"),
                     (work + "/", "is the current folder or contains it"), (folder.path, "is the current folder or contains it"),
                     ("../home", "is the home folder or contains it"), (home, "is the home folder or contains it"),
                     ("/", "is the root folder"), ("", "an empty path names no folder")]
        for (output, problem) in cases {
            for command in folderCommands(output, overwrite: true) {
                try assertRefused(command, output: output, problem, unchanged: [folder.path],
                                  environment: ["HOME": home], in: URL(fileURLWithPath: work))
            }
        }
    }

    func testFolderOutputsRefuseAnExistingPathWithoutOverwrite() throws {
        try makeHarnessFolder(path("pruned"))
        try FileManager.default.createDirectory(atPath: path("empty"), withIntermediateDirectories: false)
        try Data("kept".utf8).write(to: folder.appendingPathComponent("file"))
        try makeFIFO(path("fifo"))
        try FileManager.default.createSymbolicLink(atPath: path("link"), withDestinationPath: "pruned")
        for name in ["pruned", "empty", "file", "fifo", "link"] {
            for command in folderCommands(path(name), overwrite: false) {
                try assertRefused(command, output: path(name), "already exists (pass --overwrite to replace a folder intraslice wrote)")
            }
        }
    }

    func testFolderOutputsWithOverwriteRefuseWhatIntrasliceDidNotWrite() throws {
        let fm = FileManager.default
        try makeHarnessFolder(path("with-notes"), extra: ["notes.txt"])
        try makeHarnessFolder(path("repository"), extra: ["Package.swift", "README.md"])
        try fm.createDirectory(atPath: path("repository/.git"), withIntermediateDirectories: false)
        try fm.createDirectory(atPath: path("huggingface"), withIntermediateDirectories: false)
        try Data(#"{"model_type": "llama"}"#.utf8).write(to: folder.appendingPathComponent("huggingface/config.json"))
        try fm.createDirectory(atPath: path("empty"), withIntermediateDirectories: false)
        let notOurs = "is not a folder intraslice wrote (a config.json with intraslice_pruned_layers or a synth.json with "
            + "intraslice_synth_version, and nothing but config.json, model-NNNNN-of-NNNNN.safetensors, model.safetensors, "
            + "model.safetensors.index.json, pruning.json, statistics.h5, synth.json, tokenizer.json), so it is not replaced"
        for name in ["with-notes", "repository", "huggingface", "empty"] {
            for command in folderCommands(path(name), overwrite: true) { try assertRefused(command, output: path(name), notOurs) }
        }
        try makeHarnessFolder(path("pruned"))
        try fm.createSymbolicLink(atPath: path("link"), withDestinationPath: "pruned")
        try Data("kept".utf8).write(to: folder.appendingPathComponent("file"))
        try makeFIFO(path("fifo"))
        for (name, kind) in [("link", "a symbolic link"), ("file", "a regular file"), ("fifo", "a FIFO")] {
            for command in folderCommands(path(name), overwrite: true) {
                try assertRefused(command, output: path(name), "is \(kind), not a folder intraslice wrote, so it is not replaced",
                                  unchanged: [path(name), path("pruned")])
            }
        }
    }

    func testFolderOutputsRefuseAMissingParentAndAFileAsParent() throws {
        try Data("kept".utf8).write(to: folder.appendingPathComponent("plain"))
        for (output, problem) in [(path("missing/out"), "its folder \(path("missing")) does not exist"),
                                  (path("plain/out"), "its folder \(path("plain")) is not a folder")] {
            for command in folderCommands(output, overwrite: false) {
                try assertRefused(command, output: output, problem, unchanged: [folder.path])
            }
        }
    }

    // MARK: folders written from a tiny model

    /// A tiny checkpoint folder that borrows SmolLM2's tokenizer.
    func tinyModel() throws -> String {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m (the tiny model's tokenizer) not cached; run Scripts/fetch-assets.sh")
        }
        try TinyModels.writeFolder("llama", to: path("tiny"), tokenizerSource: "smollm2-135m")
        return path("tiny")
    }

    func prune(_ model: String, to output: String, _ extra: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProgram(CLITests.executable, ["prune", "--method", "magnitude", "--ratio", "0.2", "--model", model, "--output", output,
                                             "--threads", "1"] + extra, in: folder)
    }

    func testPruneWithOverwriteReplacesAFolderItWrote() throws {
        let model = try tinyModel()
        let first = try prune(model, to: path("pruned"))
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(OutputFolder.isHarnessFolder(path("pruned")), "prune writes a folder its own rule recognises")
        let before = try PathSnapshot(path("pruned"))
        let again = try prune(model, to: path("pruned"), ["--overwrite"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertNotEqual(try PathSnapshot(path("pruned")).inode, before.inode, "a new folder took its place")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted(), ["pruned", "tiny"], "nothing left over")
    }

    func testExportRefusesAPrunedFolderWithoutOverwrite() throws {
        let model = try tinyModel()
        XCTAssertEqual(try prune(model, to: path("pruned")).status, 0)
        try assertRefused(["export", "--model", model, "--output", path("pruned")], output: path("pruned"),
                          "already exists (pass --overwrite to replace a folder intraslice wrote)")
    }

    func testExportWithOverwriteReplacesAFolderItWrote() throws {
        let model = try tinyModel()
        let export = ["export", "--model", model, "--output", path("exported")]
        let first = try runProgram(CLITests.executable, export, in: folder)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(OutputFolder.isHarnessFolder(path("exported")), "export writes a folder its own rule recognises")
        try assertRefused(export, output: path("exported"), "already exists (pass --overwrite to replace a folder intraslice wrote)")
        let before = try PathSnapshot(path("exported"))
        let again = try runProgram(CLITests.executable, export + ["--overwrite"], in: folder)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertNotEqual(try PathSnapshot(path("exported")).inode, before.inode)
    }

    /// Only `.<name>.<pid>.partial` folders of the same destination whose process is gone.
    func testAPartialFolderOfADeadPruneIsRemovedByTheNextPruneToTheSameFolderAndALiveOnesIsKept() throws {
        let model = try tinyModel()
        let dead = try deadProcessID()
        let removed = ".pruned.\(dead).partial", kept = [".pruned.\(getpid()).partial", ".other.\(dead).partial"]
        for name in [removed] + kept {
            try FileManager.default.createDirectory(atPath: path(name), withIntermediateDirectories: false)
            try Data("half-written weights".utf8).write(to: folder.appendingPathComponent(name + "/model.safetensors"))
        }
        let result = try prune(model, to: path("pruned"))
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted(), (kept + ["pruned", "tiny"]).sorted())
    }
}
