import CCBLAS
import Foundation

/// The harness's one threading model. `count` workers compute at once; every BLAS product
/// is cut into tiles whose shapes depend only on the product's shape (`ProductTiles`), and
/// each tile is a single-threaded BLAS call run by one worker. OpenBLAS itself is kept at
/// one thread: its own workers would otherwise spin in `sched_yield` whenever the harness
/// runs non-BLAS work (attention, norms) on the same cores, and its results change with its
/// thread count, so that the same run on 1 and 2 threads gave different bits.
public enum BLASThreads {
    private static let state = State()

    /// Threads the harness computes with (every timing reports it).
    public static var count: Int { state.count }

    /// Sets the thread count for all later work in this process.
    public static func set(_ n: Int) {
        precondition(n >= 1, "thread count must be at least 1")
        state.count = n
    }

    /// Called before any BLAS or LAPACK call: pins OpenBLAS to one thread (once).
    @inline(__always)
    static func prepare() { _ = state }

    /// `OPENBLAS_NUM_THREADS` as the environment gives it, if set.
    public static var environmentValue: String? { ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] }

    /// OpenBLAS's build description (version, target core, threading), for provenance.
    public static var configuration: String {
        guard let c = openblas_get_config() else { return "unknown" }
        return String(cString: c).trimmingCharacters(in: .whitespaces)
    }

    /// The CPU core OpenBLAS selected at run time (e.g. "Haswell").
    public static var coreName: String {
        guard let c = openblas_get_corename() else { return "unknown" }
        return String(cString: c)
    }

    /// The count starts as OpenBLAS's own default (OPENBLAS_NUM_THREADS, else every core);
    /// OpenBLAS is then told to use one thread.
    private final class State: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Int

        init() {
            value = max(1, Int(openblas_get_num_threads()))
            openblas_set_num_threads(1)
        }

        var count: Int {
            get { lock.withLock { value } }
            set { lock.withLock { value = newValue } }
        }
    }
}
