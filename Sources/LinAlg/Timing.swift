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

/// The process's peak resident memory so far, in bytes: `VmHWM` of /proc/self/status,
/// the high-water mark of this program's own address space. (getrusage's ru_maxrss is
/// inherited across fork and exec, so a tool started by a large process, a test runner,
/// reported its parent's peak.)
public func peakResidentBytes() -> Int {
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
       let kib = Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") {
        return kib * 1024
    }
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss) * 1024
}

/// CPU seconds this process has spent so far, in user and in system (kernel) mode, over
/// all its threads. A benchmark quotes the system share of a timed region: threads that
/// spin or fight over cores show up there before they show up in wall-clock time.
public func processCPUSeconds() -> (user: Double, system: Double) {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
    return (seconds(usage.ru_utime), seconds(usage.ru_stime))
}

/// The CPU's model name and its widest vector extension (from /proc/cpuinfo), so a timing
/// says which kind of machine it came from: targets must hold on AVX2 and AVX-512 alike.
public func cpuModelName() -> String {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
    let lines = info.split(separator: "\n")
    func field(_ name: String) -> String? {
        lines.first { $0.hasPrefix(name) }.flatMap { $0.split(separator: ":", maxSplits: 1).last }.map { $0.trimmingCharacters(in: .whitespaces) }
    }
    let flags = Set((field("flags") ?? "").split(separator: " ").map(String.init))
    let vector = flags.contains("avx512f") ? "avx512f" : flags.contains("avx2") ? "avx2" : "no avx2"
    return "\(field("model name") ?? "unknown") (\(vector))"
}
