/// The sgemm FLOP ceiling of this machine: every later speed figure is quoted as a
/// fraction of it, measured in the same process with the same thread count.
public struct GemmBenchmarkResult: Sendable, Codable {
    public let size: Int
    public let threads: Int
    public let warmup: Int
    public let seconds: TimingSummary

    /// 2·n³ floating-point operations per product.
    public var flops: Double { 2 * Double(size) * Double(size) * Double(size) }
    public var gflopsMedian: Double { flops / seconds.median / 1e9 }
    public var gflopsBest: Double { flops / seconds.min / 1e9 }
    /// GFLOP/s at the first and third quartile of time (slow quartile first).
    public var gflopsInterquartile: (low: Double, high: Double) { (flops / seconds.q3 / 1e9, flops / seconds.q1 / 1e9) }
}

/// Times C = A·B for n×n Float matrices of seeded random values.
public func benchmarkSgemm(size n: Int, warmup: Int = 2, repeats: Int = 10, seed: UInt64 = 0) -> GemmBenchmarkResult {
    precondition(n >= 1, "gemm size must be positive")
    var rng = SeededGenerator(seed: seed)
    let a = Matrix<Float>.random(rows: n, cols: n, using: &rng)
    let b = Matrix<Float>.random(rows: n, cols: n, using: &rng)
    var c = Matrix<Float>(rows: n, cols: n)
    let seconds = measure(warmup: warmup, repeats: repeats) { gemm(a, b, into: &c) }
    return GemmBenchmarkResult(size: n, threads: BLASThreads.count, warmup: warmup, seconds: seconds)
}
