import ArgumentParser
import Foundation
import H5Store
import LinAlg

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Speed benchmarks (release builds only give meaningful numbers).",
        subcommands: [BenchGemm.self, BenchPrefill.self, BenchDecode.self, BenchGradients.self, BenchActivations.self, BenchLatency.self, BenchLayer.self, BenchSpeedup.self]
    )
}

struct BenchGemm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "sgemm GFLOP/s for n×n Float matrices: the FLOP ceiling later speed figures are compared with."
    )

    @Option(help: "Matrix size n.") var size = 2048
    @Option(help: "Timed repetitions (median and interquartile range are reported).") var repeats = 10
    @Option(help: "Untimed warm-up runs.") var warmup = 2
    @Option(help: "Seed of the random matrices.") var seed: UInt64 = 0
    @Option(help: "Also store the timings and provenance in this HDF5 file.") var output: String?
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard (1...16384).contains(size) else { throw ValidationError("--size must be between 1 and 16384, got \(size)") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative, got \(warmup)") }
    }

    func run() throws {
        try checkOutputFile(output)
        threadOptions.apply()
        let result = benchmarkSgemm(size: size, warmup: warmup, repeats: repeats, seed: seed)
        let iqr = result.gflopsInterquartile
        print(String(format: "sgemm %d×%d, %d threads: %.1f GFLOP/s median (IQR %.1f–%.1f), best %.1f; %d repeats after %d warm-up",
                     size, size, result.threads, result.gflopsMedian, iqr.low, iqr.high, result.gflopsBest, repeats, warmup))
        if let output { try store(result, in: output) }
        if outputOptions.json {
            var json: [String: Any] = [
                "command": "bench gemm", "size": size, "threads": result.threads,
                "gflops_median": result.gflopsMedian, "gflops_q1": iqr.low, "gflops_q3": iqr.high,
                "gflops_best": result.gflopsBest, "seconds_median": result.seconds.median,
                "repeats": repeats, "warmup": warmup, "blas": BLASThreads.configuration,
                "blas_core": BLASThreads.coreName, "harness_version": HarnessVersion.current,
            ]
            if let output { json["output"] = output }
            JSONOutput.emit(json)
        }
    }

    private func store(_ result: GemmBenchmarkResult, in path: String) throws {
        let writer = try H5Writer(path: path)
        try Provenance().write(to: writer)
        try writer.write(result.seconds.samples, shape: [result.seconds.samples.count], to: "/bench/gemm/seconds")
        try writer.setAttributes([
            "size": .int(Int64(size)), "threads": .int(Int64(result.threads)), "warmup": .int(Int64(warmup)),
            "seed": .int(Int64(bitPattern: seed)), "gflops_median": .double(result.gflopsMedian),
            "gflops_best": .double(result.gflopsBest),
        ], on: "/bench/gemm")
        try writer.commit()
    }
}
