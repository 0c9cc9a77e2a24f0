import Foundation
import ModelIO
import TestSupport
import XCTest

final class GGUFFileTests: XCTestCase {
    func sample() -> TinyGGUF {
        var g = TinyGGUF()
        g.metadata = [("general.architecture", .string("llama")), ("llama.block_count", .uint32(2))]
        // A 2×3 F32 matrix (dimensions [3, 2] in ggml order) and a 2×32 Q8_0 matrix.
        g.tensors = [("w", [3, 2], 0, floatBytes([1, 2, 3, 4, 5, 6])),
                     ("q", [32, 2], 8, ([0x00, 0x3C] + (0..<32).map { UInt8($0) }) + ([0x00, 0x40] + (0..<32).map { UInt8($0) }))]
        return g
    }

    func testMetadataOfEveryValueType() throws {
        for version: UInt32 in [2, 3] {
            var g = TinyGGUF()
            g.version = version
            let values: [(String, GGUFValue)] = [
                ("u8", .uint8(200)), ("i8", .int8(-100)), ("u16", .uint16(60000)), ("i16", .int16(-30000)),
                ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)), ("f32", .float32(1e-5)),
                ("bool", .bool(true)), ("str", .string("héllo")), ("u64", .uint64(1 << 40)), ("i64", .int64(-(1 << 40))),
                ("f64", .float64(1_000_000.5)),
                ("strings", .array([.string("a"), .string(""), .string("Ġb")])),
                ("ints", .array([.int32(-1), .int32(7)])),
                ("floats", .array([.float32(0.5), .float32(-2)])),
                ("nested", .array([.array([.uint8(1), .uint8(2)]), .array([.uint8(3)])])),
                ("empty", .array([])),
            ]
            g.metadata = values
            let file = try GGUFFile(path: try g.write())
            XCTAssertEqual(file.version, Int(version))
            for (key, value) in values { XCTAssertEqual(file.metadata[key], value, key) }
            XCTAssertEqual(file.metadata["u8"]?.intValue, 200)
            XCTAssertEqual(file.metadata["u32"]?.intValue, 4_000_000_000)
            XCTAssertEqual(file.metadata["i64"]?.intValue, -(1 << 40))
            XCTAssertEqual(file.metadata["i16"]?.doubleValue, -30000)
            XCTAssertEqual(file.metadata["f32"]?.doubleValue, Double(Float(1e-5)))
            XCTAssertNil(file.metadata["f32"]?.intValue)
            XCTAssertEqual(file.metadata["bool"]?.boolValue, true)
            XCTAssertEqual(file.metadata["str"]?.stringValue, "héllo")
            XCTAssertEqual(file.metadata["strings"]?.stringArray, ["a", "", "Ġb"])
            XCTAssertEqual(file.metadata["ints"]?.intArray, [-1, 7])
            XCTAssertEqual(file.metadata["floats"]?.floatArray, [0.5, -2])
            XCTAssertNil(file.metadata["ints"]?.stringArray)
            XCTAssertEqual(file.metadata["nested"]?.arrayValue?[1].intArray, [3])
            XCTAssertEqual(file.metadata["empty"]?.arrayValue?.count, 0)
            XCTAssertTrue(file.tensors.isEmpty)
        }
    }

    func testTensorDirectoryOffsetsAndRowMajorValues() throws {
        for alignment in [32, 64] {
            var g = sample()
            if alignment != 32 { g.metadata.append(("general.alignment", .uint32(UInt32(alignment)))) }
            g.alignment = alignment
            let file = try GGUFFile(path: try g.write())
            XCTAssertEqual(file.architecture, "llama")
            XCTAssertEqual(file.alignment, alignment)
            XCTAssertEqual(file.dataOffset % alignment, 0)
            XCTAssertEqual(file.tensors.map(\.name), ["w", "q"])
            let w = try XCTUnwrap(file.tensor(named: "w"))
            XCTAssertEqual(w.dimensions, [3, 2])
            XCTAssertEqual(w.shape, [2, 3])
            XCTAssertEqual(w.type, .f32)
            XCTAssertEqual(w.offset, file.dataOffset)
            XCTAssertEqual(w.byteCount, 24)
            XCTAssertEqual(try file.dequantize(w), [1, 2, 3, 4, 5, 6])
            let q = try XCTUnwrap(file.tensor(named: "q"))
            XCTAssertEqual(q.offset, file.dataOffset + alignment)
            XCTAssertEqual(q.elementCount, 64)
            XCTAssertEqual(q.byteCount, 68)
            let values = try file.dequantize(q)
            XCTAssertEqual(Array(values[0..<32]), (0..<32).map(Float.init))
            XCTAssertEqual(Array(values[32..<64]), (0..<32).map { Float($0) * 2 })
            var buffer = [Float](repeating: 0, count: 64)
            try buffer.withUnsafeMutableBufferPointer { try file.dequantize(q, into: $0) }
            XCTAssertEqual(buffer, values)
            var short = [Float](repeating: 0, count: 10)
            XCTAssertThrowsError(try short.withUnsafeMutableBufferPointer { try file.dequantize(q, into: $0) })
            XCTAssertNil(file.tensor(named: "missing"))
        }
    }

    /// Opening fails with an error that names the file and contains every fragment.
    func assertFails(_ path: String, _ fragments: [String], line: UInt = #line) {
        XCTAssertThrowsError(try GGUFFile(path: path), line: line) { error in
            guard let error = error as? ModelFileError else { return XCTFail("\(error)", line: line) }
            XCTAssertEqual(error.path, path, line: line)
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(path + ": "), text, line: line)
            for fragment in fragments { XCTAssertTrue(text.contains(fragment), "\(text) lacks \(fragment)", line: line) }
        }
    }

    func testTruncatedTensorData() throws {
        let g = sample()
        assertFails(try g.write(cutTo: g.bytes.count - 1), ["tensor q", "truncated"])
    }

    func testUnknownTypeID() throws {
        var g = sample()
        g.tensors[1].typeID = 99
        assertFails(try g.write(), ["tensor q", "type id 99"])
        g.tensors[1].typeID = 20
        assertFails(try g.write(), ["tensor q", "type id 20", "iq4_nl"])
    }

    func testKnownTypeThatCannotBeDequantized() throws {
        var g = TinyGGUF()
        g.tensors = [("k", [256], GGMLType.q2_K.rawValue, [UInt8](repeating: 0, count: 84))]
        let path = try g.write()
        let file = try GGUFFile(path: path)
        XCTAssertThrowsError(try file.dequantize(file.tensors[0])) { error in
            XCTAssertTrue("\(error)".hasPrefix(path) && "\(error)".contains("q2_K"), "\(error)")
        }
    }

    func testRowNotAWholeNumberOfBlocks() throws {
        var g = TinyGGUF()
        g.tensors = [("odd", [16, 2], GGMLType.q8_0.rawValue, [UInt8](repeating: 0, count: 34))]
        assertFails(try g.write(), ["tensor odd", "block size 32"])
    }

    func testBadMagicAndUnsupportedVersions() throws {
        var g = sample()
        g.magic = Array("GGML".utf8)
        assertFails(try g.write(), ["not a GGUF file"])
        for version: UInt32 in [1, 4] {
            var v = sample()
            v.version = version
            assertFails(try v.write(), ["unsupported GGUF version \(version)"])
        }
    }

    func testFileCutInsideTheMetadata() throws {
        var g = sample()
        g.metadata.append(("tokenizer.ggml.tokens", .array((0..<100).map { .string("token\($0)") })))
        // Header (24 bytes) + the first key/value, then a cut in the middle of the token list.
        assertFails(try g.write(cutTo: 24 + 60 + 500), ["tokenizer.ggml.tokens", "truncated"])
        assertFails(try g.write(cutTo: 10), ["truncated"])
    }

    func testMissingAndEmptyFiles() throws {
        let folder = try makeTemporaryFolder("gguf")
        let missing = folder.appendingPathComponent("absent.gguf").path
        assertFails(missing, ["cannot open"])
        assertFails(folder.path, ["not a regular file"])
        let empty = folder.appendingPathComponent("empty.gguf").path
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        assertFails(empty, ["empty file"])
    }
}
