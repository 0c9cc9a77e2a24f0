import H5Store
import TestSupport
import XCTest

final class DamagedFileTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try makeTemporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func testMissingForeignAndTruncatedFilesGiveClearErrors() throws {
        let missing = folder.appendingPathComponent("missing.h5").path
        XCTAssertThrowsError(try H5Reader(path: missing)) { error in
            XCTAssertEqual(String(describing: error), "\(missing): no such file")
        }

        let foreign = folder.appendingPathComponent("foreign.h5").path
        try Data("this is not HDF5 at all".utf8).write(to: URL(fileURLWithPath: foreign))
        XCTAssertThrowsError(try H5Reader(path: foreign)) { error in
            XCTAssertTrue(String(describing: error).hasPrefix("\(foreign): not an HDF5 file"), String(describing: error))
        }

        // A real file cut in half: either opening or reading the data must fail, with the file named.
        let whole = folder.appendingPathComponent("whole.h5").path
        let writer = try H5Writer(path: whole)
        try writer.write((0..<200_000).map { Float($0) }, shape: [200_000], to: "/data", compression: .none)
        try writer.commit()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
        let truncated = folder.appendingPathComponent("truncated.h5").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        XCTAssertThrowsError(try H5Reader(path: truncated).read("/data", as: Float.self)) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.hasPrefix(truncated + ":"), text)
            XCTAssertTrue(text.contains("truncated or corrupt"), text)
        }
    }
}
