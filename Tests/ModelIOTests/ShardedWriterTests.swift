import Foundation
import LinAlg
import ModelIO
import TestSupport
import XCTest

/// `ShardedSafetensorsWriter`: HuggingFace's sharded layout, streamed, read back by
/// `SafetensorsCheckpoint`; the 16-bit conversions against known bit patterns.
final class ShardedWriterTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try makeTemporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() }

    /// The stored 16-bit patterns of `inputs` written as `dtype` and read back raw.
    func stored16(_ inputs: [UInt32], as dtype: SafetensorsDType) throws -> [UInt16] {
        let target = folder.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        let writer = try ShardedSafetensorsWriter(folder: target.path, dtype: dtype)
        try writer.append("t", shape: [inputs.count], values: inputs.map { Float(bitPattern: $0) })
        try writer.finish()
        let file = try SafetensorsFile(path: target.appendingPathComponent("model.safetensors").path)
        let raw = file.rawBytes(of: try XCTUnwrap(file.tensor(named: "t")))
        return (0..<inputs.count).map { UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
    }

    func testBF16RoundsToNearestEvenAsTorchDoes() throws {
        let cases: [(UInt32, UInt16, String)] = [
            (0x3F80_0000, 0x3F80, "1"),
            (0x3F80_8000, 0x3F80, "tie, even neighbour below"),
            (0x3F81_8000, 0x3F82, "tie, odd neighbour below: up"),
            (0x3F80_8001, 0x3F81, "just above the tie"),
            (0x3F80_7FFF, 0x3F80, "just below the tie"),
            (0x4049_0FDB, 0x4049, "pi"),
            (0xC049_0FDB, 0xC049, "-pi"),
            (0x8000_0000, 0x8000, "-0"),
            (0x0000_0001, 0x0000, "smallest subnormal"),
            (0x0001_8000, 0x0002, "subnormal tie, odd below: up"),
            (0x7F7F_8000, 0x7F80, "tie below the largest: rounds to even, which is infinity"),
            (0x7F7F_FFFF, 0x7F80, "largest float overflows"),
            (0x7F80_0000, 0x7F80, "infinity"),
            (0xFF80_0000, 0xFF80, "-infinity"),
            (0x7FC0_0000, 0x7FC0, "quiet NaN"),
            (0x7F80_0001, 0x7FC0, "NaN whose payload is only in the low bits stays NaN, not infinity"),
        ]
        let stored = try stored16(cases.map(\.0), as: .bf16)
        for (c, bits) in zip(cases, stored) {
            XCTAssertEqual(String(bits, radix: 16), String(c.1, radix: 16), c.2)
        }
        let negativeNaN = try stored16([0xFFC0_0001], as: .bf16)[0]
        XCTAssertTrue(Float(bitPattern: UInt32(negativeNaN) << 16).isNaN)
    }

    func testF16RoundsToNearestEven() throws {
        let cases: [(Float, UInt16, String)] = [
            (1, 0x3C00, "1"),
            (1.0 / 3, 0x3555, "1/3"),
            (65504, 0x7BFF, "largest half"),
            (65520, 0x7C00, "tie above the largest rounds to even: infinity"),
            (0x1p-25, 0x0000, "tie between 0 and the smallest subnormal: 0"),
            (0x1.8p-24, 0x0002, "tie between 1 and 2 subnormal steps: 2"),
            (-2.5, 0xC100, "-2.5"),
        ]
        let stored = try stored16(cases.map(\.0.bitPattern), as: .f16)
        for (c, bits) in zip(cases, stored) {
            XCTAssertEqual(String(bits, radix: 16), String(c.1, radix: 16), c.2)
        }
        XCTAssertTrue(Float(Float16(bitPattern: try stored16([Float.nan.bitPattern], as: .f16)[0])).isNaN)
    }

    /// Five tensors, a limit of 250 elements' bytes: HuggingFace's rule puts a and b
    /// together, starts a new shard for c, gives d (over the limit) a shard of its own
    /// numbered before c's, and adds e to c's.
    func testShardsFollowHuggingFacesRuleAndRoundTripInEveryType() throws {
        var rng = SeededGenerator(seed: 7)
        let sizes = [("a", [10, 10]), ("b", [100]), ("c", [2, 5, 10]), ("d", [300]), ("e", [10])]
        let values = sizes.map { ($0.0, $0.1, (0..<$0.1.reduce(1, *)).map { _ in Float.random(in: -4..<4, using: &rng) }) }
        for dtype in [SafetensorsDType.f32, .f16, .bf16] {
            let target = folder.appendingPathComponent(dtype.rawValue)
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
            let writer = try ShardedSafetensorsWriter(folder: target.path, dtype: dtype, maxShardBytes: 250 * dtype.byteSize)
            for (name, shape, v) in values { try writer.append(name, shape: shape, values: v) }
            let files = try writer.finish()

            let names = ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"]
            XCTAssertEqual(files.shards, names)
            XCTAssertEqual(files.index, "model.safetensors.index.json")
            XCTAssertEqual(files.weightMap, ["a": names[0], "b": names[0], "d": names[1], "c": names[2], "e": names[2]])
            XCTAssertEqual(files.totalSize, 610 * dtype.byteSize)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target.path).sorted(), names + [files.index!])
            let index = try JSONDecoder().decode(SafetensorsIndex.self, from: Data(contentsOf: target.appendingPathComponent(files.index!)))
            XCTAssertEqual(index, SafetensorsIndex(totalSize: files.totalSize, weightMap: files.weightMap))

            let checkpoint = try SafetensorsCheckpoint(folder: target.path)
            XCTAssertEqual(checkpoint.files.count, 3)
            XCTAssertEqual(checkpoint.tensorNames, ["a", "b", "c", "d", "e"])
            for file in checkpoint.files { XCTAssertEqual(file.metadata, ["format": "pt"]) }
            for (name, shape, v) in values {
                let (_, info) = try XCTUnwrap(checkpoint.tensor(named: name))
                XCTAssertEqual(info.shape, shape)
                XCTAssertEqual(info.dtype, dtype)
                let read = try checkpoint.floats(name)
                switch dtype {
                case .f32: XCTAssertEqual(read.map(\.bitPattern), v.map(\.bitPattern), name)
                case .f16: XCTAssertEqual(read, v.map { Float(Float16($0)) }, name)
                default: assertNearestBF16(read, v, name)
                }
            }
        }
    }

    /// Each stored value is a bf16 value and no neighbouring bf16 value is closer.
    func assertNearestBF16(_ read: [Float], _ original: [Float], _ name: String, line: UInt = #line) {
        for (r, v) in zip(read, original) {
            XCTAssertEqual(r.bitPattern & 0xFFFF, 0, name, line: line)
            for step in [-1, 1] {
                let neighbour = Float(bitPattern: UInt32(Int64(r.bitPattern) + Int64(step) << 16))
                XCTAssertLessThanOrEqual(abs(r - v), abs(neighbour - v), name, line: line)
            }
        }
    }

    func testOneShardIsModelSafetensorsWithoutIndex() throws {
        let writer = try ShardedSafetensorsWriter(folder: folder.path, dtype: .bf16)
        try writer.append("w", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        try writer.append("scalar", shape: [], values: [0.5])
        try writer.append("empty", shape: [0, 7], values: [])
        let files = try writer.finish()
        XCTAssertEqual(files.shards, ["model.safetensors"])
        XCTAssertNil(files.index)
        XCTAssertEqual(try entries(), ["model.safetensors"])
        let checkpoint = try SafetensorsCheckpoint(folder: folder.path)
        XCTAssertEqual(try checkpoint.floats("w"), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try checkpoint.floats("scalar"), [0.5])
        XCTAssertEqual(try checkpoint.floats("empty"), [])
        // The data starts 8-byte aligned after the reserved header space.
        let file = checkpoint.files[0]
        XCTAssertEqual(file.tensors.map(\.offset).min()! % 8, 0)
    }

    /// A tensor longer than one conversion chunk is produced in consecutive chunks.
    func testLongTensorsAreFilledChunkByChunk() throws {
        let count = ShardedSafetensorsWriter.chunkElements * 2 + 3
        var ranges: [Range<Int>] = []
        let writer = try ShardedSafetensorsWriter(folder: folder.path, dtype: .f32)
        try writer.append("long", shape: [count]) { range, chunk in
            ranges.append(range)
            XCTAssertEqual(chunk.count, range.count)
            for (k, i) in range.enumerated() { chunk[k] = Float(i) }
        }
        try writer.finish()
        XCTAssertEqual(ranges.map(\.lowerBound), [0, ShardedSafetensorsWriter.chunkElements, 2 * ShardedSafetensorsWriter.chunkElements])
        XCTAssertEqual(ranges.last?.upperBound, count)
        let read = try SafetensorsCheckpoint(folder: folder.path).floats("long")
        XCTAssertEqual(read, (0..<count).map(Float.init))
    }

    /// More tensors than the reserved header space holds go on in a new shard.
    func testAShardWhoseHeaderWouldOutgrowItsSpaceIsClosed() throws {
        let writer = try ShardedSafetensorsWriter(folder: folder.path, dtype: .f32)
        let names = (0..<1000).map { "model.layers.\($0).a_rather_long_tensor_name_for_the_header.weight" }
        for (i, name) in names.enumerated() { try writer.append(name, shape: [1], values: [Float(i)]) }
        let files = try writer.finish()
        XCTAssertEqual(files.shards.count, 2)
        let checkpoint = try SafetensorsCheckpoint(folder: folder.path)
        for (i, name) in names.enumerated() { XCTAssertEqual(try checkpoint.floats(name), [Float(i)]) }
    }

    func testATakenNameIsNotReplacedAndNothingIsLeft() throws {
        let theirs = folder.appendingPathComponent("model.safetensors")
        try Data("the user's".utf8).write(to: theirs)
        let writer = try ShardedSafetensorsWriter(folder: folder.path, dtype: .f32)
        try writer.append("w", shape: [1], values: [1])
        XCTAssertThrowsError(try writer.finish()) { error in
            XCTAssertEqual((error as? ModelFileError)?.path, theirs.path)
            XCTAssertTrue("\(error)".contains("already exists"), "\(error)")
        }
        XCTAssertEqual(try entries(), ["model.safetensors"])
        XCTAssertEqual(try String(contentsOf: theirs, encoding: .utf8), "the user's")
    }

    func testAFailedOrDroppedWriterRemovesWhatItWrote() throws {
        struct Stop: Error {}
        let writer = try ShardedSafetensorsWriter(folder: folder.path, dtype: .bf16, maxShardBytes: 8)
        try writer.append("a", shape: [4], values: [1, 2, 3, 4])
        try writer.append("b", shape: [4], values: [1, 2, 3, 4])
        XCTAssertThrowsError(try writer.append("c", shape: [4]) { _, _ in throw Stop() })
        XCTAssertEqual(try entries(), [])
        XCTAssertThrowsError(try writer.append("d", shape: [1], values: [1])) { error in
            XCTAssertTrue("\(error)".contains("stopped after an earlier error"), "\(error)")
        }

        do {
            let dropped = try ShardedSafetensorsWriter(folder: folder.path, dtype: .f32, maxShardBytes: 4)
            try dropped.append("a", shape: [1], values: [1])
            try dropped.append("b", shape: [1], values: [2])
            XCTAssertEqual(try entries().count, 2)  // two temporary shards
        }
        XCTAssertEqual(try entries(), [])
    }

    func testBadTensorsAreRefused() throws {
        let writer = try ShardedSafetensorsWriter(folder: folder.path, dtype: .f16)
        try writer.append("w", shape: [1], values: [1])
        XCTAssertThrowsError(try writer.append("w", shape: [1], values: [1])) { XCTAssertTrue("\($0)".contains("name used twice")) }
        let other = try ShardedSafetensorsWriter(folder: folder.path, dtype: .f16)
        XCTAssertThrowsError(try other.append("x", shape: [2, 2], values: [1])) { XCTAssertTrue("\($0)".contains("does not hold 1 values")) }
        XCTAssertThrowsError(try ShardedSafetensorsWriter(folder: folder.path, dtype: .i8)) { XCTAssertTrue("\($0)".contains("I8")) }
        XCTAssertThrowsError(try ShardedSafetensorsWriter(folder: folder.path, dtype: .f32, maxShardBytes: 0))
    }
}
