import CCBLAS
import Foundation

/// The number of threads OpenBLAS uses, which every timing must report.
public enum BLASThreads {
    /// Threads OpenBLAS will use for the next call.
    public static var count: Int { Int(openblas_get_num_threads()) }

    /// Sets the thread count for all later BLAS/LAPACK calls in this process.
    public static func set(_ n: Int) {
        precondition(n >= 1, "thread count must be at least 1")
        openblas_set_num_threads(Int32(n))
    }

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
}
