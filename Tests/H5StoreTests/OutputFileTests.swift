@testable import H5Store
import TestSupport
import XCTest

/// `OutputFile`'s rule: a file output may replace a regular file and nothing else, and is
/// refused before any work when its folder cannot take it. Every case runs in a temporary
/// folder on things made there.
final class OutputFileTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try makeTemporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// `OutputFile(path)` throws `path: problem`, and what is at `path` is unchanged.
    func assertRefused(_ path: String, _ problem: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let before = try? PathSnapshot(path)
        XCTAssertThrowsError(try OutputFile(path), file: file, line: line) { error in
            XCTAssertEqual(error as? OutputError, OutputError(path, problem), file: file, line: line)
        }
        XCTAssertEqual(try? PathSnapshot(path), before, "left as it was", file: file, line: line)
    }

    func testANewPathIsWritten() throws {
        try OutputFile(path("ids.bin")).write(Data([1, 2, 3]))
        XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("ids.bin")), Data([1, 2, 3]))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["ids.bin"], "no temporary file left")
    }

    func testAnExistingRegularFileIsReplacedByANewFile() throws {
        let file = path("table.md")
        try Data("old".utf8).write(to: URL(fileURLWithPath: file))
        let before = try PathSnapshot(file)
        try OutputFile(file).write(Data("new".utf8))
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "new")
        XCTAssertNotEqual(try PathSnapshot(file).inode, before.inode, "renamed over, not written in place")
    }

    func testAFolderIsRefused() throws {
        try FileManager.default.createDirectory(atPath: path("results.h5"), withIntermediateDirectories: false)
        try Data("kept".utf8).write(to: folder.appendingPathComponent("results.h5/inside"))
        try assertRefused(path("results.h5"), "is a folder; only a regular file is replaced")
    }

    func testAFIFOIsRefused() throws {
        try makeFIFO(path("fifo"))
        try assertRefused(path("fifo"), "is a FIFO; only a regular file is replaced")
    }

    func testADeviceNodeIsRefused() throws {
        try makeDeviceNode(path("null"))
        try assertRefused(path("null"), "is a character device; only a regular file is replaced")
    }

    func testASocketIsRefused() throws {
        let descriptor = try makeSocket(path("socket"))
        defer { close(descriptor) }
        try assertRefused(path("socket"), "is a socket; only a regular file is replaced")
    }

    func testASymbolicLinkIsRefusedWhateverItPointsTo() throws {
        let fm = FileManager.default
        try Data("target".utf8).write(to: folder.appendingPathComponent("file"))
        try fm.createDirectory(atPath: path("dir"), withIntermediateDirectories: false)
        try makeFIFO(path("fifo"))
        for (link, target) in [("to-file", "file"), ("to-dir", "dir"), ("to-fifo", "fifo"), ("dangling", "missing")] {
            try fm.createSymbolicLink(atPath: path(link), withDestinationPath: target)
            let targetBefore = try? PathSnapshot(path(target))
            try assertRefused(path(link), "is a symbolic link; only a regular file is replaced")
            XCTAssertEqual(try? PathSnapshot(path(target)), targetBefore, "\(target) left as it was")
        }
    }

    func testAReadOnlyFileIsRefused() throws {
        try XCTSkipIf(getuid() == 0, "root may write any file")
        try Data("kept".utf8).write(to: folder.appendingPathComponent("ro.h5"))
        chmod(path("ro.h5"), 0o444)
        try assertRefused(path("ro.h5"), "is read-only")
    }

    func testAFolderWithoutWritePermissionIsRefused() throws {
        try XCTSkipIf(getuid() == 0, "root may write any folder")
        try FileManager.default.createDirectory(atPath: path("locked"), withIntermediateDirectories: false)
        chmod(path("locked"), 0o555)
        defer { chmod(path("locked"), 0o755) }
        try assertRefused(path("locked/x.h5"), "its folder \(path("locked")) is not writable")
    }

    func testAPathInAMissingFolderIsRefused() throws {
        try assertRefused(path("missing/x.h5"), "its folder \(path("missing")) does not exist")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("missing")))
    }

    func testAPathUnderARegularFileIsRefused() throws {
        try Data("kept".utf8).write(to: folder.appendingPathComponent("plain"))
        try assertRefused(path("plain/x.h5"), "its folder \(path("plain")) is not a folder")
        try assertRefused(path("plain/sub/x.h5"), "its folder \(path("plain/sub")) is not a folder (part of that path is a file)")
    }

    func testAnEmptyPathAndAPathEndingInASlashAreRefused() throws {
        try assertRefused("", "an empty path names no file")
        try assertRefused(path("new") + "/", "ends in /, so it names a folder; a file is expected")
    }

    func testTheDestinationIsCheckedAgainBeforeTheRename() throws {
        let output = try OutputFile(path("late"))
        try makeFIFO(path("late"))
        let before = try PathSnapshot(path("late"))
        XCTAssertThrowsError(try output.write(Data([1]))) {
            XCTAssertEqual($0 as? OutputError, OutputError(path("late"), "is a FIFO; only a regular file is replaced"))
        }
        XCTAssertEqual(try PathSnapshot(path("late")), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["late"], "the temporary file is removed")
    }

    func testH5WriterRefusesAFIFOBeforeCreatingAnything() throws {
        try makeFIFO(path("run.h5"))
        let before = try PathSnapshot(path("run.h5"))
        XCTAssertThrowsError(try H5Writer(path: path("run.h5"))) {
            XCTAssertEqual($0 as? OutputError, OutputError(path("run.h5"), "is a FIFO; only a regular file is replaced"))
        }
        XCTAssertEqual(try PathSnapshot(path("run.h5")), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["run.h5"])
    }

    /// Only `.<name>.tmp-<pid>-<number>` regular files of this destination whose pid is gone.
    func testADeadRunsTemporaryFileIsRemovedAndALiveRunsIsKept() throws {
        let dead = try deadProcessID(), live = getpid()
        let fm = FileManager.default
        let removed = ".run.h5.tmp-\(dead)-123"
        let kept = [".run.h5.tmp-\(live)-456", ".run.h5.tmp-\(dead)-123.keep", ".run.h5.tmp-\(dead)", ".other.h5.tmp-\(dead)-1",
                    "run.h5.tmp-\(dead)-1", ".run.h5.tmp-0-1", ".run.h5.tmp-x\(dead)-1"]
        for name in [removed] + kept { try Data("partial".utf8).write(to: folder.appendingPathComponent(name)) }
        try fm.createDirectory(atPath: path(".run.h5.tmp-\(dead)-789"), withIntermediateDirectories: false)
        _ = try OutputFile(path("run.h5"))
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: folder.path).sorted(), (kept + [".run.h5.tmp-\(dead)-789"]).sorted(),
                       "the dead run's file is gone; a live run's, other names and a folder are kept")
    }
}
