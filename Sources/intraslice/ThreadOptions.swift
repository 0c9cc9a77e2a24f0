import ArgumentParser
import LinAlg

/// `--threads N`: the BLAS thread count, set before any work and reported with every timing.
struct ThreadOptions: ParsableArguments {
    @Option(help: "BLAS threads (default: OPENBLAS_NUM_THREADS, else every core).")
    var threads: Int?

    func validate() throws {
        if let threads, !(1...1024).contains(threads) {
            throw ValidationError("--threads must be between 1 and 1024, got \(threads)")
        }
    }

    /// Applies the thread count and returns the count in effect.
    @discardableResult
    func apply() -> Int {
        if let threads { BLASThreads.set(threads) }
        return BLASThreads.count
    }
}
