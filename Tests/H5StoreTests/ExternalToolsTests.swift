import H5Store
import TestSupport
import XCTest

/// Files written by the store must be readable by the standard tools: h5dump and h5py.
final class ExternalToolsTests: XCTestCase {
    var folder: URL!
    var file: String!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder()
        file = folder.appendingPathComponent("tools.h5").path
        let writer = try H5Writer(path: file)
        try writer.write([Float(1.5), -2, 3.25, 4], shape: [2, 2], to: "/metrics/floats")
        try writer.write((0..<100_000).map { Int64($0) }, shape: [100_000], to: "/metrics/big")
        try writer.write([UInt8(7)], shape: [], to: "/scalar")
        try writer.setAttributes(["model": .string("smollm2-135m ✓"), "seqlen": .int(2048),
                                  "ppl": .double(12.5), "ratios": .doubles([0.1, 0.2]),
                                  "tasks": .strings(["piqa", "boolq"])], on: "/metrics")
        try writer.commit()
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func testH5DumpReadsTheFile() throws {
        guard let h5dump = findExecutable(["/usr/bin/h5dump", "/usr/local/bin/h5dump"]) else {
            throw XCTSkip("h5dump is not installed (Debian package hdf5-tools; Scripts/setup.sh installs it)")
        }
        let result = try runProgram(h5dump, ["-d", "/metrics/floats", "-a", "/metrics/model", "-a", "/metrics/tasks", file])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("1.5, -2"), result.stdout)
        XCTAssertTrue(result.stdout.contains("smollm2-135m"), result.stdout)
        XCTAssertTrue(result.stdout.contains("\"piqa\", \"boolq\""), result.stdout)
        let whole = try runProgram(h5dump, ["-H", "-p", file])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertTrue(whole.stdout.contains("COMPRESSION DEFLATE"), "large datasets are gzip-compressed:\n\(whole.stdout)")
    }

    func testH5pyReadsTheFile() throws {
        // Scripts/test.sh provides a Python with h5py in INTRASLICE_PYTHON; when it is set,
        // h5py must be there. A bare `swift test` skips unless the system Python has h5py.
        let given = ProcessInfo.processInfo.environment["INTRASLICE_PYTHON"]
        let python = given ?? "/usr/bin/python3"
        let hasH5py = FileManager.default.isExecutableFile(atPath: python)
            && (try? runProgram(python, ["-c", "import h5py"]).status) == 0
        if given != nil {
            XCTAssertTrue(hasH5py, "INTRASLICE_PYTHON=\(python) cannot import h5py")
        } else if !hasH5py {
            throw XCTSkip("no Python with h5py (Scripts/test.sh sets INTRASLICE_PYTHON)")
        }
        let script = """
        import sys, h5py
        f = h5py.File(sys.argv[1], "r")
        m = f["metrics"]
        assert m["floats"][()].tolist() == [[1.5, -2.0], [3.25, 4.0]], m["floats"][()]
        assert m["big"][()].sum() == 100000 * 99999 // 2
        assert int(f["scalar"][()]) == 7
        assert m.attrs["model"] == "smollm2-135m ✓", m.attrs["model"]
        assert int(m.attrs["seqlen"]) == 2048
        assert float(m.attrs["ppl"]) == 12.5
        assert list(m.attrs["ratios"]) == [0.1, 0.2]
        assert [t if isinstance(t, str) else t.decode() for t in m.attrs["tasks"]] == ["piqa", "boolq"]
        print("h5py ok", h5py.version.version)
        """
        let result = try runProgram(python, ["-c", script, file])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("h5py ok"), result.stdout + result.stderr)
    }
}
