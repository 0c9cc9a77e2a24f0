import Foundation
import H5Store
import LinAlg
import ModelIO

/// What run times on this machine scale with, measured in a few seconds so that a plan
/// speaks for this machine and these threads rather than for a table: Float32 products on
/// the harness's workers (what forward passes are made of), Float64 products (the methods'
/// statistics), Cholesky factorisations and solves (LAPACK runs on one thread), fresh memory written
/// (page faults included: the large temporaries of a layer), SHA-256 (the provenance hash
/// of a checkpoint), reading checkpoint tensors into Float32, and writing files.
public struct MachineRates: Codable, Sendable {
    public var threads: Int
    public var sgemmFlopsPerSecond: Double
    public var dgemmFlopsPerSecond: Double
    public var lapackFlopsPerSecond: Double
    public var freshMemoryBytesPerSecond: Double
    public var sha256BytesPerSecond: Double
    /// Checkpoint bytes read and converted to Float32 per second, measured on the
    /// checkpoint's own first-layer tensors (or on a bf16 file written for the purpose when
    /// only a config is given).
    public var loadBytesPerSecond: Double
    public var writeBytesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case threads
        case sgemmFlopsPerSecond = "sgemm_flops_per_second"
        case dgemmFlopsPerSecond = "dgemm_flops_per_second"
        case lapackFlopsPerSecond = "lapack_flops_per_second"
        case freshMemoryBytesPerSecond = "fresh_memory_bytes_per_second"
        case sha256BytesPerSecond = "sha256_bytes_per_second"
        case loadBytesPerSecond = "load_bytes_per_second"
        case writeBytesPerSecond = "write_bytes_per_second"
    }

    /// Measures every rate once (about three seconds). `checkpoint` is the model's GGUF file
    /// or folder (nil: only a config); `scratchFolder` is where the run will write, for the
    /// write rate and for the bf16 file a config-only plan reads.
    public static func measure(checkpoint: String?, scratchFolder: String) throws -> MachineRates {
        let sgemm = benchmarkSgemm(size: 2048, warmup: 1, repeats: 5).gflopsMedian * 1e9
        var rng = SeededGenerator(seed: 0)
        let n = 1024
        let a = Matrix<Float>.random(rows: n, cols: n, using: &rng).asDouble
        let dgemmSeconds = LinAlg.measure(warmup: 1, repeats: 3) { _ = matmul(a, a) }.median
        // A factorisation and a solve as the methods make them (C_KK⁻¹·C_KP), at a size
        // where LAPACK's n³ work, not the O(n²) copies around it, decides the time.
        let m = 2048
        let b = Matrix<Float>.random(rows: m, cols: m, using: &rng).asDouble
        var spd = matmul(b, b, transposeB: true)
        for i in 0..<m { spd.elements[i * m + i] += Double(m) }
        let rhs = Matrix(rows: m, cols: m / 2, elements: Array(b.elements.prefix(m * m / 2)))
        let lapackSeconds = try LinAlg.measure(warmup: 0, repeats: 2) { _ = try CholeskyFactor(spd).solve(rhs) }.median
        let lapackFlops = pow(Double(m), 3) / 3 + 2 * Double(m) * Double(m) * Double(m / 2)

        let freshBytes = 256 << 20
        let freshSeconds = LinAlg.measure(warmup: 0, repeats: 3) {
            var fresh = [Float](repeating: 0, count: freshBytes / 4)
            fresh.withUnsafeMutableBufferPointer { p in for i in stride(from: 0, to: p.count, by: 1024) { p[i] = 1 } }
        }.median

        let hashed = Data(count: 64 << 20)
        let hashSeconds = LinAlg.measure(warmup: 0, repeats: 2) { _ = SHA256.hex(of: hashed) }.median

        let scratch = URL(fileURLWithPath: scratchFolder).appendingPathComponent(".intraslice-plan-\(getpid()).tmp").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let writeSeconds = try timeWrite(bytes: 128 << 20, to: scratch)
        let load = try checkpoint.map(loadRate(checkpoint:)) ?? loadRate(scratchFile: scratch)
        return MachineRates(threads: BLASThreads.count, sgemmFlopsPerSecond: sgemm, dgemmFlopsPerSecond: 2 * pow(Double(n), 3) / dgemmSeconds,
                            lapackFlopsPerSecond: lapackFlops / lapackSeconds,
                            freshMemoryBytesPerSecond: Double(freshBytes) / freshSeconds,
                            sha256BytesPerSecond: Double(hashed.count) / hashSeconds, loadBytesPerSecond: load,
                            writeBytesPerSecond: Double(128 << 20) / writeSeconds)
    }

    /// Writes `bytes` to `path` and flushes them to the disk.
    private static func timeWrite(bytes: Int, to path: String) throws -> Double {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw ModelFileError(path: path, message: "cannot create a scratch file to measure the write rate")
        }
        defer { try? handle.close() }
        let chunk = Data(repeating: 1, count: 16 << 20)
        let start = monotonicSeconds()
        for _ in 0..<(bytes / chunk.count) { try handle.write(contentsOf: chunk) }
        try handle.synchronize()
        return monotonicSeconds() - start
    }

    /// File bytes per second of converting the first layer's tensors to Float32 (the first
    /// 512 MiB of them at most), through the same readers a load uses.
    private static func loadRate(checkpoint path: String) throws -> Double {
        var isFolder: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
        var bytes = 0
        let start = monotonicSeconds()
        if isFolder.boolValue {
            let checkpoint = try SafetensorsCheckpoint(folder: path)
            defer { checkpoint.releasePages() }
            for name in checkpoint.tensorNames where name.contains("layers.0.") && bytes < 512 << 20 {
                guard let (file, info) = checkpoint.tensor(named: name) else { continue }
                _ = try file.floats(info)
                bytes += info.byteCount
            }
        } else {
            let file = try GGUFFile(path: path)
            defer { file.releasePages() }
            for tensor in file.tensors where tensor.name.hasPrefix("blk.0.") && bytes < 512 << 20 {
                _ = try file.dequantize(tensor)
                bytes += tensor.byteCount
            }
        }
        guard bytes > 0 else { throw ModelFileError(path: path, message: "no first-layer tensors to measure the load rate on") }
        return Double(bytes) / (monotonicSeconds() - start)
    }

    /// The same rate on a 64 MiB bf16 tensor written to `path` first (a plan from a config).
    private static func loadRate(scratchFile path: String) throws -> Double {
        var writer = SafetensorsWriter()
        try writer.add("layers.0.weight", shape: [4096, 8192], values: [Float](repeating: 0.5, count: 4096 * 8192), as: .bf16)
        try writer.write(to: path)
        let file = try SafetensorsFile(path: path)
        guard let info = file.tensors.first else { throw ModelFileError(path: path, message: "the scratch tensor was not written") }
        let start = monotonicSeconds()
        _ = try file.floats(info)
        return Double(info.byteCount) / (monotonicSeconds() - start)
    }
}
