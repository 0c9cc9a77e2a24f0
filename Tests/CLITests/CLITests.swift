import Foundation
import H5Store
import LinAlg
import TestSupport
import XCTest

/// Runs the built `intraslice` executable as a user would.
final class CLITests: XCTestCase {
    /// The build products folder: the test bundle sits beside the executables.
    static var executable: String {
        var folder = Bundle.main.bundleURL
        if folder.pathExtension == "xctest" { folder = folder.deletingLastPathComponent() }
        for candidate in [folder, Bundle(for: CLITests.self).bundleURL.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("intraslice").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return folder.appendingPathComponent("intraslice").path
    }

    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProgram(Self.executable, arguments, environment: environment)
    }

    func testHelpListsTheSubcommands() throws {
        let result = try run(["--help"])
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.stdout.contains("bench"), result.stdout)
        XCTAssertTrue(result.stdout.contains("assets"), result.stdout)
        let bench = try run(["bench", "--help"])
        XCTAssertTrue(bench.stdout.contains("gemm"), bench.stdout)
    }

    func testBenchGemmPrintsOneJSONObjectLast() throws {
        let result = try run(["bench", "gemm", "--size", "96", "--repeats", "3", "--warmup", "1", "--threads", "1", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try lastJSONObject(result.stdout)
        XCTAssertEqual(json["threads"] as? Int, 1)
        XCTAssertEqual(json["size"] as? Int, 96)
        XCTAssertEqual(json["repeats"] as? Int, 3)
        let median = try XCTUnwrap(json["gflops_median"] as? Double)
        XCTAssertGreaterThan(median, 0)
        XCTAssertLessThanOrEqual(try XCTUnwrap(json["gflops_q1"] as? Double), try XCTUnwrap(json["gflops_q3"] as? Double))
        XCTAssertTrue((json["blas"] as? String ?? "").contains("OpenBLAS"))
    }

    /// On a CPU with AVX2 and FMA the CLI never computes with OpenBLAS's pre-AVX2 fallback
    /// kernels, whatever OpenBLAS's own CPU detection says (Debian's 0.3.21 chooses Prescott
    /// on an Emerald Rapids Xeon); an explicit OPENBLAS_CORETYPE is obeyed.
    func testCLIRunsOnKernelsTheCPUSupports() throws {
        let arguments = ["bench", "gemm", "--size", "64", "--repeats", "1", "--warmup", "0", "--threads", "1", "--json"]
        let result = try runProgram(Self.executable, arguments, removing: ["OPENBLAS_CORETYPE"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let core = try XCTUnwrap(try lastJSONObject(result.stdout)["blas_core"] as? String)
        let flags = CPUFeatures.flags(cpuinfo: (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")
        XCTAssertNil(BLASCore.replacement(selectedCore: core, cpuFlags: flags), "the CLI ran on \(core)")
        let forced = try run(arguments, environment: ["OPENBLAS_CORETYPE": "Prescott"])
        XCTAssertEqual(try lastJSONObject(forced.stdout)["blas_core"] as? String, "Prescott")
    }

    func testBenchGemmStoresTimingsInHDF5() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("gemm.h5").path
        let result = try run(["bench", "gemm", "--size", "64", "--repeats", "4", "--warmup", "0", "--threads", "2", "--output", output, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let reader = try H5Reader(path: output)
        XCTAssertEqual(try reader.shape(of: "/bench/gemm/seconds"), [4])
        XCTAssertEqual(try reader.attribute("threads", of: "/bench/gemm"), .int(2))
        XCTAssertEqual(try reader.attribute("blas_threads", of: "/provenance"), .int(2))
        let json = try lastJSONObject(result.stdout)
        // JSON text keeps about 16 significant digits.
        let stored = try XCTUnwrap(try reader.attribute("gflops_median", of: "/bench/gemm").doubleValue)
        XCTAssertEqual(stored, try XCTUnwrap(json["gflops_median"] as? Double), accuracy: 1e-12 * stored)
    }

    func testBadInputExitsNonZeroWithOneLineError() throws {
        let zero = try run(["bench", "gemm", "--size", "0", "--json"])
        try assertOneLineError(zero, contains: "--size must be between 1 and 16384")
        XCTAssertEqual(try lastJSONObject(zero.stdout)["error"] as? String, String(zero.stderr.dropFirst("error: ".count).dropLast()))
        try assertOneLineError(try run(["bench", "gemm", "--threads", "0"]), contains: "--threads")
        try assertOneLineError(try run(["bench", "gemm", "--size", "abc"]), contains: "size")
        try assertOneLineError(try run(["bench", "nonsense"]), contains: "nonsense")
        try assertOneLineError(try run(["assets", "--kind", "bogus"]), contains: "--kind must be one of")
        let outputInMissingFolder = try run(["bench", "gemm", "--size", "8", "--repeats", "1", "--output", "/nonexistent/dir/x.h5"])
        try assertOneLineError(outputInMissingFolder, contains: "/nonexistent/dir/x.h5")
    }

    func testAssetsListsTheRegistryAndFlagsACorruptFile() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("cli-cache-\(UUID().uuidString)")
        let text = cache.appendingPathComponent("text")
        try FileManager.default.createDirectory(at: text, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: cache) }
        try Data("not the real c4 text".utf8).write(to: text.appendingPathComponent("c4.utf8"))

        let listing = try run(["assets", "--kind", "text", "--json"], environment: ["INTRASLICE_CACHE": cache.path])
        XCTAssertEqual(listing.status, 0, listing.stderr)
        let rows = try XCTUnwrap(try lastJSONObject(listing.stdout)["assets"] as? [[String: Any]])
        let status = Dictionary(uniqueKeysWithValues: rows.map { ($0["id"] as! String, $0["status"] as! String) })
        XCTAssertEqual(status["c4"], "cached")
        XCTAssertEqual(status["wiki"], "missing")

        let verified = try run(["assets", "--kind", "text", "--verify", "--json"], environment: ["INTRASLICE_CACHE": cache.path])
        try assertOneLineError(verified, contains: "do not match their pinned SHA-256")
        XCTAssertEqual(try lastJSONObject(verified.stdout)["error"] as? String != nil, true)
    }
}

extension XCTestCase {
    /// The tool failed with one `error: …` line on stderr containing `text`.
    func assertOneLineError(_ result: (status: Int32, stdout: String, stderr: String), contains text: String,
                            file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertNotEqual(result.status, 0, file: file, line: line)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "stderr: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("error: "), result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.contains(text), result.stderr, file: file, line: line)
    }
}
