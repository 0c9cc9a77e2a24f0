import Foundation
import ModelIO
import TestSupport
import XCTest

final class SafetensorsTests: XCTestCase {
    /// Writes a safetensors file by hand (header JSON given as text) to make damaged files.
    func handMade(_ header: String, data: [UInt8], name: String = "model.safetensors", in folder: URL? = nil) throws -> String {
        let url = try (folder ?? makeTemporaryFolder("safetensors")).appendingPathComponent(name)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
        bytes += Array(header.utf8) + data
        try Data(bytes).write(to: url)
        return url.path
    }

    func assertFails(_ path: String, _ fragments: [String], line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsFile(path: path), line: line) { error in
            let text = "\(error)"
            XCTAssertEqual((error as? ModelFileError)?.path, path, line: line)
            for fragment in fragments { XCTAssertTrue(text.contains(fragment), "\(text) lacks \(fragment)", line: line) }
        }
    }

    func testRoundTripIsBitExact() throws {
        var rng = SystemRandomNumberGenerator()
        // Random bit patterns cover subnormals, infinities and NaN payloads; F32 must survive them all.
        let f32 = (0..<1000).map { _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)) }
        let f16Exact: [Float] = [0, -0.0, 1, -2.5, 65504, 0x1p-24, 0.1]
        let bf16Exact: [Float] = [1, -3, 0x1p100, 0x1p-133, 0.15625]

        var writer = SafetensorsWriter(metadata: ["format": "pt", "note": "ünïcode"])
        try writer.add("model.layers.0.w", shape: [10, 100], values: f32)
        try writer.add("h", shape: [7], values: f16Exact, as: .f16)
        try writer.add("b", shape: [5, 1], values: bf16Exact, as: .bf16)
        try writer.add("odd", shape: [3], values: [1, 2, 3], as: .f16)  // 6 bytes: checks alignment of what follows
        try writer.add("scalar", shape: [], values: [42])
        try writer.add("empty", shape: [0, 4], values: [])
        let path = try makeTemporaryFolder("safetensors").appendingPathComponent("out.safetensors").path
        try writer.write(to: path)

        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.metadata, ["format": "pt", "note": "ünïcode"])
        XCTAssertEqual(Set(file.tensors.map(\.name)), ["model.layers.0.w", "h", "b", "odd", "scalar", "empty"])
        let read = try file.floats("model.layers.0.w")
        XCTAssertEqual(read.map(\.bitPattern), f32.map(\.bitPattern))
        XCTAssertEqual(file.tensor(named: "model.layers.0.w")?.shape, [10, 100])
        XCTAssertEqual(file.tensor(named: "h")?.dtype, .f16)
        XCTAssertEqual(try file.floats("h").map(\.bitPattern), f16Exact.map { Float(Float16($0)).bitPattern })
        XCTAssertEqual(try file.floats("h")[0..<6], f16Exact[0..<6])
        XCTAssertEqual(try file.floats("b"), bf16Exact)
        XCTAssertEqual(try file.floats("odd"), [1, 2, 3])
        XCTAssertEqual(try file.floats("scalar"), [42])
        XCTAssertEqual(try file.floats("empty"), [])
        // Header padded to 8 bytes, every tensor at a multiple of its element size.
        let headerLength = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual(headerLength % 8, 0)
        for t in file.tensors { XCTAssertEqual(t.offset % t.dtype.byteSize, 0, t.name) }
        // No temporary file is left beside the result.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent), ["out.safetensors"])
    }

    /// Reading a tensor larger than one conversion chunk (4 Mi elements) gives its exact
    /// values and leaves almost none of its mapped source resident: a 151936-row Float32
    /// embedding is never held twice, mapped and converted.
    func testAConvertedTensorLeavesItsSourcePagesUnmapped() throws {
        let count = 5 << 20 + 3
        let values = (0..<count).map { Float(bitPattern: UInt32(truncatingIfNeeded: $0 &* 2_654_435_761)) }
        var writer = SafetensorsWriter()
        try writer.add("big", shape: [count], values: values)
        let folder = try makeTemporaryFolder("safetensors-pages")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("big.safetensors").path
        try writer.write(to: path)

        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(try file.floats("big").map(\.bitPattern), values.map(\.bitPattern))
        let resident = try XCTUnwrap(Self.residentKilobytes(ofMappingOf: path), "no mapping of \(path) in /proc/self/smaps")
        XCTAssertLessThan(resident, 64, "the 20 MiB source stays resident: \(resident) KiB")
    }

    /// The resident KiB of this process's mappings of `path` (/proc/self/smaps).
    static func residentKilobytes(ofMappingOf path: String) throws -> Int? {
        let smaps = try XCTUnwrap(FileHandle(forReadingAtPath: "/proc/self/smaps")).readToEnd() ?? Data()
        let lines = String(decoding: smaps, as: UTF8.self).split(separator: "\n")
        var inside = false, total: Int?
        for line in lines {
            if let first = line.first, first.isHexDigit, line.contains("-") { inside = line.hasSuffix(path) }
            else if inside, line.hasPrefix("Rss:") {
                total = (total ?? 0) + (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0)
            }
        }
        return total
    }

    func testBF16RoundsToNearestEven() throws {
        var writer = SafetensorsWriter()
        // 1 + 2^-8 lies halfway between two bf16 values: ties go to the even one (1).
        // 1 + 3·2^-8 is halfway too and goes up to 1 + 2^-6.
        try writer.add("x", shape: [3], values: [1 + 0x1p-8, 1 + 3 * 0x1p-8, 1 + 0x1p-8 + 0x1p-20], as: .bf16)
        let path = try makeTemporaryFolder("safetensors").appendingPathComponent("r.safetensors").path
        try writer.write(to: path)
        XCTAssertEqual(try SafetensorsFile(path: path).floats("x"), [1, 1 + 0x1p-6, 1 + 0x1p-7])
    }

    func testShardedCheckpoint() throws {
        let folder = try makeTemporaryFolder("safetensors")
        var first = SafetensorsWriter(), second = SafetensorsWriter()
        try first.add("embed", shape: [2, 2], values: [1, 2, 3, 4])
        try first.add("layer.0", shape: [2], values: [5, 6], as: .bf16)
        try second.add("layer.1", shape: [3], values: [7, 8, 9], as: .f16)
        try first.write(to: folder.appendingPathComponent("model-00001-of-00002.safetensors").path)
        try second.write(to: folder.appendingPathComponent("model-00002-of-00002.safetensors").path)
        let index = """
        {"metadata": {"total_size": 30}, "weight_map": {"embed": "model-00001-of-00002.safetensors",
         "layer.0": "model-00001-of-00002.safetensors", "layer.1": "model-00002-of-00002.safetensors"}}
        """
        try index.write(to: folder.appendingPathComponent("model.safetensors.index.json"), atomically: true, encoding: .utf8)

        let checkpoint = try SafetensorsCheckpoint(folder: folder.path)
        XCTAssertEqual(checkpoint.files.count, 2)
        XCTAssertEqual(checkpoint.tensorNames, ["embed", "layer.0", "layer.1"])
        XCTAssertEqual(try checkpoint.floats("embed"), [1, 2, 3, 4])
        XCTAssertEqual(try checkpoint.floats("layer.0"), [5, 6])
        XCTAssertEqual(try checkpoint.floats("layer.1"), [7, 8, 9])
        XCTAssertTrue(checkpoint.tensor(named: "layer.1")?.file.path.hasSuffix("00002-of-00002.safetensors") ?? false)
        XCTAssertThrowsError(try checkpoint.floats("absent")) { XCTAssertTrue("\($0)".contains("absent")) }

        // An index that promises a tensor its shard does not have names the shard.
        try index.replacingOccurrences(of: "\"layer.1\": \"model-00002", with: "\"layer.9\": \"model-00002")
            .write(to: folder.appendingPathComponent("model.safetensors.index.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SafetensorsCheckpoint(folder: folder.path)) { error in
            XCTAssertTrue("\(error)".contains("model-00002-of-00002.safetensors: tensor layer.9"), "\(error)")
        }
    }

    func testSingleFileCheckpointAndEmptyFolder() throws {
        let folder = try makeTemporaryFolder("safetensors")
        XCTAssertThrowsError(try SafetensorsCheckpoint(folder: folder.path)) { error in
            XCTAssertTrue("\(error)".hasPrefix(folder.path + ": no model.safetensors"), "\(error)")
        }
        var writer = SafetensorsWriter()
        try writer.add("w", shape: [1], values: [3])
        try writer.write(to: folder.appendingPathComponent("model.safetensors").path)
        XCTAssertEqual(try SafetensorsCheckpoint(folder: folder.path).floats("w"), [3])
    }

    func testTruncatedFile() throws {
        var writer = SafetensorsWriter()
        try writer.add("weight", shape: [4, 4], values: [Float](repeating: 1, count: 16))
        let path = try makeTemporaryFolder("safetensors").appendingPathComponent("cut.safetensors").path
        try writer.write(to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 4).write(to: URL(fileURLWithPath: path))
        assertFails(path, ["tensor weight", "truncated"])
        try bytes.prefix(20).write(to: URL(fileURLWithPath: path))
        assertFails(path, ["header length", "truncated"])
    }

    func testWrongTensorSize() throws {
        let path = try handMade(#"{"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}}"#, data: [UInt8](repeating: 0, count: 24))
        assertFails(path, ["tensor w", "wrong size", "24 expected"])
    }

    func testUnsupportedAndUnknownDtypes() throws {
        let path = try handMade(#"{"ids": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}}"#, data: [UInt8](repeating: 0, count: 16))
        let file = try SafetensorsFile(path: path)  // readable: the size checks out
        XCTAssertThrowsError(try file.floats("ids")) { error in
            XCTAssertTrue("\(error)".hasPrefix(path + ": tensor ids: unsupported dtype I64"), "\(error)")
        }
        let unknown = try handMade(#"{"x": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 1]}}"#, data: [0])
        assertFails(unknown, ["tensor x", "unknown dtype Q4"])
        var writer = SafetensorsWriter()
        XCTAssertThrowsError(try writer.add("i", shape: [1], values: [1], as: .i32))
    }

    func testNotSafetensors() throws {
        let path = try handMade("not json", data: [])
        assertFails(path, ["not a safetensors file"])
        assertFails("/nonexistent/model.safetensors", ["cannot open"])
    }
}
