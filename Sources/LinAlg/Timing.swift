import Foundation

/// Monotonic wall-clock seconds, for durations only.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Summary of repeated timings: median and interquartile range are what reports quote.
public struct TimingSummary: Sendable, Codable, Equatable {
    public let samples: [Double]
    public let median: Double
    public let q1: Double
    public let q3: Double
    public let min: Double
    public let max: Double

    public init(samples: [Double]) {
        precondition(!samples.isEmpty, "no timing samples")
        self.samples = samples
        let sorted = samples.sorted()
        median = quantile(sorted, 0.5)
        q1 = quantile(sorted, 0.25)
        q3 = quantile(sorted, 0.75)
        min = sorted.first!
        max = sorted.last!
    }
}

/// Quantile with linear interpolation between order statistics (numpy's default).
func quantile(_ sorted: [Double], _ p: Double) -> Double {
    let position = p * Double(sorted.count - 1)
    let lo = Int(position.rounded(.down))
    let hi = Swift.min(lo + 1, sorted.count - 1)
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - Double(lo))
}

/// Runs `body` `warmup` times untimed, then `repeats` times timed.
public func measure(warmup: Int, repeats: Int, _ body: () throws -> Void) rethrows -> TimingSummary {
    precondition(warmup >= 0 && repeats >= 1)
    for _ in 0..<warmup { try body() }
    var samples: [Double] = []
    samples.reserveCapacity(repeats)
    for _ in 0..<repeats {
        let start = monotonicSeconds()
        try body()
        samples.append(monotonicSeconds() - start)
    }
    return TimingSummary(samples: samples)
}

/// The process's peak resident memory so far, in bytes (getrusage's ru_maxrss, which
/// Linux reports in KiB).
public func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss) * 1024
}
