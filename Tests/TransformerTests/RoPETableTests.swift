@testable import Transformer
import XCTest

/// The shared tables of positions from 0 that layers run alone (calibration) reuse.
final class RoPETableTests: XCTestCase {
    /// Two frequency sets and two lengths asked for in turn (a model with local and global
    /// layers, two calibration lengths): each answer is the table built fresh for exactly
    /// that request, not one cached for another.
    func testSharedTablesAreTheOnesAskedFor() {
        let local = RoPE.inverseFrequencies(headDim: 16, base: 10_000, scaling: nil)
        let global = RoPE.inverseFrequencies(headDim: 16, base: 1_000_000, scaling: nil)
        for (frequencies, length) in [(local, 64), (global, 64), (local, 32), (global, 64), (local, 64), (local, 32)] {
            let shared = RoPETable.fromPositionZero(inverseFrequencies: frequencies, length: length)
            let fresh = RoPETable(inverseFrequencies: frequencies, positions: Array(0..<length))
            XCTAssertEqual(shared.rows, length)
            XCTAssertEqual(shared.cosines, fresh.cosines)
            XCTAssertEqual(shared.sines, fresh.sines)
        }
    }
}
