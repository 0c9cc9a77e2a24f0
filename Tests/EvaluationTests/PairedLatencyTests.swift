@testable import Evaluation
import XCTest

/// The alternation `bench speedup` and the experiments' speed cells rely on: the order
/// swaps every round (AB, BA, …), warm-up rounds are run but not kept, and each kept round
/// gives one baseline / model ratio.
final class PairedLatencyTests: XCTestCase {
    func testRoundsAlternateTheOrderAndWarmUpIsNotKept() {
        var calls: [Character] = []
        let result = PairedLatency.alternate(warmup: 2, repeats: 4, baseline: { calls.append("B") }, model: { calls.append("M") })
        XCTAssertEqual(String(calls), "BMMB" + "BMMBBMMB")
        XCTAssertEqual(result.baseline.samples.count, 4)
        XCTAssertEqual(result.model.samples.count, 4)
        XCTAssertEqual(result.ratios.samples, zip(result.baseline.samples, result.model.samples).map { $0 / $1 })
    }
}
