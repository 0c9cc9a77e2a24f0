@testable import H5Store
import TestSupport
import XCTest

final class AtomicityTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try makeTemporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func writeVersion(_ value: Int64, to file: String) throws {
        let writer = try H5Writer(path: file)
        try writer.write([value], shape: [1], to: "/version")
        try writer.commit()
    }

    func leftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp-") }
    }

    func testCrashBetweenTemporaryWriteAndRenameKeepsThePreviousFile() throws {
        let file = folder.appendingPathComponent("results.h5").path
        try writeVersion(1, to: file)

        let writer = try H5Writer(path: file)
        try writer.write([Int64(2)], shape: [1], to: "/version")
        try writer.write([Float](repeating: 1, count: 100_000), shape: [100_000], to: "/big")
        try writer.simulateCrashBeforeRename()

        // The destination still holds the complete previous version …
        let reader = try H5Reader(path: file)
        XCTAssertEqual(try reader.read("/version", as: Int64.self).values, [1])
        XCTAssertFalse(reader.exists("/big"))
        // … and the finished temporary file sits beside it under a name no reader uses.
        let stale = try leftovers()
        XCTAssertEqual(stale.count, 1)
        XCTAssertTrue(stale[0].hasPrefix(".results.h5.tmp-"))
    }

    func testCrashBeforeTheFirstCommitLeavesNoResultsFile() throws {
        let file = folder.appendingPathComponent("new.h5").path
        let writer = try H5Writer(path: file)
        try writer.write([Int64(5)], shape: [1], to: "/version")
        try writer.simulateCrashBeforeRename()
        XCTAssertFalse(FileManager.default.fileExists(atPath: file))
    }

    func testAbandonedWriterRemovesItsTemporaryFile() throws {
        let file = folder.appendingPathComponent("results.h5").path
        try writeVersion(1, to: file)
        do {
            let writer = try H5Writer(path: file)
            try writer.write([Int64(9)], shape: [1], to: "/version")
            XCTAssertEqual(try leftovers().count, 1, "writes go to a temporary file")
        }
        XCTAssertEqual(try leftovers(), [])
        XCTAssertEqual(try H5Reader(path: file).read("/version", as: Int64.self).values, [1])
    }

    func testCommitReplacesAtomicallyAndUpdateKeepsOldObjects() throws {
        let file = folder.appendingPathComponent("results.h5").path
        try writeVersion(1, to: file)
        try writeVersion(2, to: file)
        XCTAssertEqual(try H5Reader(path: file).read("/version", as: Int64.self).values, [2])

        let updater = try H5Writer(updating: file)
        try updater.write([Double(0.5)], shape: [1], to: "/added")
        try updater.commit()
        let reader = try H5Reader(path: file)
        XCTAssertEqual(try reader.read("/version", as: Int64.self).values, [2])
        XCTAssertEqual(try reader.read("/added", as: Double.self).values, [0.5])
        XCTAssertEqual(try leftovers(), [])
    }

    func testMissingFolderIsAClearError() {
        XCTAssertThrowsError(try H5Writer(path: folder.appendingPathComponent("no/such/dir/x.h5").path)) { error in
            XCTAssertTrue(String(describing: error).contains("does not exist"), String(describing: error))
        }
    }
}
