import Foundation
import LinAlg

/// One progress line on stderr, rewritten in place: done/total, rate and time left.
/// Long evaluations report through it so a user sees that work moves and how fast.
public final class ProgressLine {
    let label: String
    let total: Int
    let unit: String
    let start = monotonicSeconds()
    var lastPrint = 0.0
    let interactive: Bool

    public init(_ label: String, total: Int, unit: String) {
        self.label = label
        self.total = total
        self.unit = unit
        interactive = isatty(STDERR_FILENO) != 0
    }

    /// Reports `done` items of `total`, with `rateUnits` processed so far for the rate.
    public func update(done: Int, rateUnits: Int) {
        let now = monotonicSeconds()
        guard done == total || now - lastPrint >= (interactive ? 0.5 : 10) else { return }
        lastPrint = now
        let elapsed = max(now - start, 1e-9)
        let rate = Double(rateUnits) / elapsed
        let remaining = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let line = String(format: "%@: %d/%d, %.0f %@/s, elapsed %.0f s, ETA %.0f s", label, done, total, rate, unit, elapsed, remaining)
        FileHandle.standardError.write(Data(((interactive ? "\r" : "") + line + (interactive && done < total ? "" : "\n")).utf8))
    }
}
