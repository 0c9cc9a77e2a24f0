import Foundation
import ModelIO
import TestSupport
import XCTest

/// Safetensors files and sharded checkpoints built to break the reader.
extension SafetensorsTests {
    func testOverlappingTensorDataIsRefusedNamingBoth() throws {
        let header = #"{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}"#
        assertFails(try handMade(header, data: [UInt8](repeating: 0, count: 16)), ["the data of tensors a and b overlap"])
        // Adjacent regions and an empty tensor placed inside another's bytes share nothing.
        let fine = #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}, "e": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]}}"#
        XCTAssertEqual(try SafetensorsFile(path: handMade(fine, data: [UInt8](repeating: 0, count: 16))).tensors.count, 3)
    }

    func testNameTwiceInTheHeaderIsRefused() throws {
        let header = #"{"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "w": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}"#
        assertFails(try handMade(header, data: [1, 2]), ["w appears twice in the header"])
    }

    func testShapesMustBeWholeNumbersNotBooleansOrFractions() throws {
        for shape in ["[true]", "[1.5]", "[1e30]", "[\"2\"]", "[-1]"] {
            let header = #"{"w": {"dtype": "U8", "shape": "# + shape + #", "data_offsets": [0, 1]}}"#
            assertFails(try handMade(header, data: [0]), ["tensor w: the shape is not a list of whole numbers"])
        }
        let offsets = #"{"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, true]}}"#
        assertFails(try handMade(offsets, data: [0]), ["tensor w: data_offsets are not two whole numbers"])
    }

    func testAbsurdShapesAreRefusedAndEmptyOnesAreKept() throws {
        // An empty tensor may not carry a dimension that the others multiply into an overflow.
        for shape in ["[0, 100000000000000]", "[2000000000, 2000000000, 2000000000, 0]", "[4294967296]"] {
            let header = #"{"w": {"dtype": "U8", "shape": "# + shape + #", "data_offsets": [0, 0]}}"#
            assertFails(try handMade(header, data: []), ["tensor w: shape", "is too large"])
        }
        let empty = #"{"w": {"dtype": "BF16", "shape": [0, 576], "data_offsets": [0, 0]}}"#
        let file = try SafetensorsFile(path: handMade(empty, data: []))
        XCTAssertEqual(file.tensors.first?.shape, [0, 576])
        XCTAssertEqual(try file.floats("w"), [])
    }

    func testDeeplyNestedHeaderIsAnErrorNotACrash() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        assertFails(try handMade(#"{"w": "# + deep + "}", data: []), ["not JSON", "nested more than 64 deep"])
    }

    func testNamesInMessagesArePrintable() throws {
        let header = #"{"bad\u001b[2Jname": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}}"#
        assertFails(try handMade(header, data: [0]), ["tensor bad\\u{1B}[2Jname: unknown dtype Q4"])
    }

    /// Two shards "a" (tensors x, y) and "b" (tensor z) with the given index text.
    func shardedFolder(index: String, extraInB: Bool = false) throws -> URL {
        let folder = try makeTemporaryFolder("safetensors")
        var a = SafetensorsWriter(), b = SafetensorsWriter()
        try a.add("x", shape: [1], values: [1])
        try a.add("y", shape: [1], values: [2])
        try b.add("z", shape: [1], values: [3])
        if extraInB { try b.add("x", shape: [1], values: [4]) }
        try a.write(to: folder.appendingPathComponent("a.safetensors").path)
        try b.write(to: folder.appendingPathComponent("b.safetensors").path)
        try Data(index.utf8).write(to: folder.appendingPathComponent(SafetensorsCheckpoint.indexFileName))
        return folder
    }

    func assertCheckpointFails(_ folder: URL, _ fragments: [String], line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsCheckpoint(folder: folder.path), line: line) { error in
            for fragment in fragments { XCTAssertTrue("\(error)".contains(fragment), "\(error) lacks \(fragment)", line: line) }
        }
    }

    func testTensorInTwoShardsIsRefused() throws {
        let folder = try shardedFolder(index: #"{"weight_map": {"x": "a.safetensors", "y": "a.safetensors", "z": "b.safetensors"}}"#, extraInB: true)
        assertCheckpointFails(folder, ["b.safetensors: tensor x is also in a.safetensors"])
    }

    func testShardTensorMissingFromTheIndexIsRefused() throws {
        let folder = try shardedFolder(index: #"{"weight_map": {"x": "a.safetensors", "z": "b.safetensors"}}"#)
        assertCheckpointFails(folder, ["a.safetensors: tensor y is in this shard but not in the weight_map"])
    }

    func testIndexPointingAtTheWrongShardIsRefused() throws {
        let folder = try shardedFolder(index: #"{"weight_map": {"x": "b.safetensors", "y": "a.safetensors", "z": "b.safetensors"}}"#)
        assertCheckpointFails(folder, ["b.safetensors: tensor x is listed in", "missing from this shard"])
        let complete = try shardedFolder(index: #"{"weight_map": {"x": "a.safetensors", "y": "a.safetensors", "z": "b.safetensors"}}"#)
        XCTAssertEqual(try SafetensorsCheckpoint(folder: complete.path).floats("z"), [3])
    }

    func testMalformedIndexIsRefused() throws {
        let twice = try shardedFolder(index: #"{"weight_map": {"x": "a.safetensors", "x": "a.safetensors", "y": "a.safetensors", "z": "b.safetensors"}}"#)
        assertCheckpointFails(twice, [SafetensorsCheckpoint.indexFileName + ": weight_map lists x twice"])
        for shard in ["\"..\"", "\"\"", "\"../a.safetensors\"", "7"] {
            let bad = try shardedFolder(index: #"{"weight_map": {"x": "# + shard + "}}")
            assertCheckpointFails(bad, ["weight_map entry of x is not a file name in the folder"])
        }
        let deep = String(repeating: "{\"a\":", count: 50_000) + "1" + String(repeating: "}", count: 50_000)
        assertCheckpointFails(try shardedFolder(index: deep), [SafetensorsCheckpoint.indexFileName, "nested more than 64 deep"])
    }
}
