import Experiments
import XCTest

/// The equal-speed search on speed curves given in closed form: it finds the smallest ratio
/// reaching the target to within the interval its steps leave, says when no ratio in range
/// reaches it, and replays a saved prefix of probes to the same next probe (a resumed run).
final class SpeedBisectionTests: XCTestCase {
    /// Pruned time proportional to 1 − 0.8 r: speedup 1 / (1 − 0.8 r), 1.25× at r = 0.25.
    func probe(_ ratio: Double) -> SpeedProbe {
        SpeedProbe(ratio: ratio, decoderReduction: ratio, denseSeconds: 1, prunedSeconds: 1 - 0.8 * ratio)
    }

    func search(_ target: ExperimentConfig.EqualSpeedEntry, noise: (Double) -> Double = { _ in 1 }) -> [SpeedProbe] {
        let bisection = SpeedBisection(target: target)
        var probes: [SpeedProbe] = []
        while let ratio = bisection.next(after: probes) {
            let exact = probe(ratio)
            probes.append(SpeedProbe(ratio: ratio, decoderReduction: ratio, denseSeconds: 1, prunedSeconds: exact.prunedSeconds * noise(ratio)))
        }
        return probes
    }

    func testFindsTheSmallestRatioReachingTheTargetWithinItsResolution() throws {
        let target = ExperimentConfig.EqualSpeedEntry(kind: .prefill, batch: 4, length: 512, speedup: 1.25, maxRatio: 0.6, steps: 6)
        let probes = search(target)
        XCTAssertEqual(probes.count, 7)
        XCTAssertEqual(probes.first?.ratio, 0.6)
        let record = EqualSpeedRecord(target: target, probes: probes)
        let found = try XCTUnwrap(record.ratio)
        // Six halvings of (0, 0.6] leave an interval under 0.6 / 64, plus the 0.001 rounding.
        XCTAssertGreaterThanOrEqual(found, 0.25)
        XCTAssertLessThanOrEqual(found, 0.25 + 0.6 / 64 + 0.001)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(record.chosen).speedup, 1.25)
        // Every probe below the answer missed the target.
        XCTAssertTrue(probes.filter { $0.ratio < found }.allSatisfy { $0.speedup < 1.25 })
    }

    func testATargetBeyondTheLargestRatioIsReportedUnreached() {
        let target = ExperimentConfig.EqualSpeedEntry(kind: .decode, batch: 1, length: 2048, speedup: 3, maxRatio: 0.5, steps: 5)
        let probes = search(target)
        XCTAssertEqual(probes.map(\.ratio), [0.5])
        XCTAssertNil(EqualSpeedRecord(target: target, probes: probes).ratio)
    }

    func testASavedPrefixOfProbesLeadsToTheSameNextProbe() {
        let target = ExperimentConfig.EqualSpeedEntry(kind: .prefill, batch: 1, length: 128, speedup: 1.25, maxRatio: 0.6, steps: 4)
        let probes = search(target)
        let bisection = SpeedBisection(target: target)
        for k in 1..<probes.count { XCTAssertEqual(bisection.next(after: Array(probes.prefix(k))), probes[k].ratio) }
        XCTAssertNil(bisection.next(after: probes))
    }

    /// Timing noise that makes one probe look faster than its neighbours moves the answer
    /// only within the interval that probe was taken in.
    func testANoisyProbeMovesTheAnswerOnlyWithinItsInterval() throws {
        let target = ExperimentConfig.EqualSpeedEntry(kind: .prefill, batch: 1, length: 128, speedup: 1.25, maxRatio: 0.6, steps: 5)
        let probes = search(target) { $0 == 0.15 ? 0.7 : 1 }
        let found = try XCTUnwrap(EqualSpeedRecord(target: target, probes: probes).ratio)
        XCTAssertTrue(probes.contains { $0.ratio == 0.15 && $0.speedup >= 1.25 })
        XCTAssertGreaterThan(found, 0.075)
        XCTAssertLessThanOrEqual(found, 0.15)
    }
}
