import Foundation
import LinAlg
@testable import Pruning
import TestSupport
import XCTest

/// Spilled calibration activations read back with the bits they were written with, from
/// files that never have a name in their folder.
final class GroupedRowsTests: XCTestCase {
    func groups() -> [Matrix<Float>] {
        var generator = SeededGenerator(seed: 7)
        return [3, 1, 5].map { rows in
            Matrix(rows: rows, cols: 4, elements: (0..<rows * 4).map { _ in Float.random(in: -1...1, using: &generator) })
        } + [Matrix(rows: 2, cols: 4, elements: [.nan, .infinity, -0.0, .leastNonzeroMagnitude, 1, 2, 3, 4])]
    }

    func testSpilledGroupsReadBackBitIdenticalAndLeaveNoFile() throws {
        let folder = try makeTemporaryFolder("grouped-rows")
        defer { try? FileManager.default.removeItem(at: folder) }
        let original = groups()
        let spilled = try GroupedRows(count: original.count, spill: SpillArea(folder: folder)) { original[$0] }
        XCTAssertTrue(spilled.isSpilled)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [], "the spill file is unlinked once open")
        XCTAssertEqual(spilled.count, original.count)
        XCTAssertEqual(spilled.rowCount, 11)
        for g in original.indices {
            let back = try spilled.group(g)
            XCTAssertEqual(back.rows, original[g].rows)
            XCTAssertEqual(back.cols, original[g].cols)
            XCTAssertEqual(back.elements.map(\.bitPattern), original[g].elements.map(\.bitPattern), "group \(g)")
        }
        let doubled = try spilled.map(spill: SpillArea(folder: folder)) { m in Matrix(rows: m.rows, cols: m.cols, elements: m.elements.map { 2 * $0 }) }
        XCTAssertTrue(doubled.isSpilled)
        XCTAssertEqual(try doubled.group(2).elements, original[2].elements.map { 2 * $0 })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
    }

    func testInMemoryGroupsAreTheGroups() throws {
        let original = groups()
        let rows = try GroupedRows(count: original.count, spill: nil) { original[$0] }
        XCTAssertFalse(rows.isSpilled)
        XCTAssertEqual(try rows.indices.map { try rows.group($0).elements.map(\.bitPattern) }, original.map { $0.elements.map(\.bitPattern) })
    }

    func testASpillFolderThatCannotHoldAFileIsAnErrorNamingIt() throws {
        let missing = URL(fileURLWithPath: "/nonexistent-intraslice-folder")
        XCTAssertThrowsError(try GroupedRows(count: 1, spill: SpillArea(folder: missing)) { _ in Matrix(rows: 1, cols: 1) }) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent-intraslice-folder"), "\(error)")
        }
    }
}
