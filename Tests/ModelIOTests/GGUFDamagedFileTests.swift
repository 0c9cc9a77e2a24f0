import Foundation
import ModelIO
import TestSupport
import XCTest

/// GGUF files built to break the reader: nesting, overlapping data, hostile names.
final class GGUFDamagedFileTests: XCTestCase {
    func assertFails(_ path: String, _ fragments: [String], line: UInt = #line) {
        XCTAssertThrowsError(try GGUFFile(path: path), line: line) { error in
            XCTAssertEqual((error as? ModelFileError)?.path, path, line: line)
            let text = "\(error)"
            for fragment in fragments { XCTAssertTrue(text.contains(fragment), "\(text) lacks \(fragment)", line: line) }
            XCTAssertFalse(text.unicodeScalars.contains { $0.properties.generalCategory == .control }, text, line: line)
        }
    }

    func write(_ bytes: [UInt8]) throws -> String {
        let path = try makeTemporaryFolder("gguf").appendingPathComponent("damaged.gguf").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    /// One metadata key whose value is an array of an array of … `depth` deep, innermost empty.
    func nestedArrays(depth: Int) -> [UInt8] {
        var out = Array("GGUF".utf8) + Self.le(UInt32(3)) + Self.le(UInt64(0)) + Self.le(UInt64(1))
        out += Self.le(UInt64(4)) + Array("deep".utf8) + Self.le(UInt32(9))
        out.reserveCapacity(out.count + 12 * depth)
        for _ in 1..<depth { out += Self.le(UInt32(9)) + Self.le(UInt64(1)) }
        return out + Self.le(UInt32(0)) + Self.le(UInt64(0))
    }

    func testArraysNestedDeeplyAreRefusedNotRecursedInto() throws {
        // 200 000 levels would overflow the stack if each were a frame of recursion.
        assertFails(try write(nestedArrays(depth: 200_000)), ["metadata deep", "nested more than 8 deep"])
        assertFails(try write(nestedArrays(depth: 9)), ["nested more than 8 deep"])
        let file = try GGUFFile(path: try write(nestedArrays(depth: 8)))
        var value = try XCTUnwrap(file.metadata["deep"])
        for _ in 1..<8 { value = try XCTUnwrap(value.arrayValue?.first) }
        XCTAssertEqual(value, .array([]))
    }

    func testArrayCountIsCheckedAgainstTheElementSize() throws {
        // 100 uint64 elements need 800 bytes; the file has 80 after the count.
        var bytes = Array("GGUF".utf8) + Self.le(UInt32(3)) + Self.le(UInt64(0)) + Self.le(UInt64(1))
        bytes += Self.le(UInt64(1)) + Array("k".utf8) + Self.le(UInt32(9)) + Self.le(UInt32(10)) + Self.le(UInt64(100))
        bytes += [UInt8](repeating: 0, count: 80)
        assertFails(try write(bytes), ["element count of k is 100", "truncated"])
        var unknown = Array("GGUF".utf8) + Self.le(UInt32(3)) + Self.le(UInt64(0)) + Self.le(UInt64(1))
        unknown += Self.le(UInt64(1)) + Array("k".utf8) + Self.le(UInt32(9)) + Self.le(UInt32(77)) + Self.le(UInt64(1))
        assertFails(try write(unknown + [0]), ["metadata k", "unknown array element type 77"])
    }

    func testDuplicateMetadataKeyIsRefused() throws {
        var g = TinyGGUF()
        g.metadata = [("llama.block_count", .uint32(2)), ("llama.block_count", .uint32(30))]
        assertFails(try g.write(), ["metadata key llama.block_count appears twice"])
    }

    /// Two F32 tensors of 8 values, the second's offset moved from 32 to 16 into the first.
    func testOverlappingTensorDataIsRefusedNamingBoth() throws {
        var g = TinyGGUF()
        g.tensors = [("first", [8], 0, floatBytes((0..<8).map(Float.init))),
                     ("second", [8], 0, floatBytes((8..<16).map(Float.init)))]
        var bytes = g.bytes
        let record = Self.le(UInt64(6)) + Array("second".utf8) + Self.le(UInt32(1)) + Self.le(UInt64(8)) + Self.le(UInt32(0))
        let at = try XCTUnwrap(bytes.indices.first { bytes[$0...].starts(with: record) }) + record.count
        XCTAssertEqual(Array(bytes[at..<at + 8]), Self.le(UInt64(32)))
        XCTAssertNoThrow(try GGUFFile(path: try write(bytes)))
        bytes.replaceSubrange(at..<at + 8, with: Self.le(UInt64(16)))
        assertFails(try write(bytes), ["the data of tensors first and second overlap"])
    }

    func testNamesFromTheFileAreEscapedAndCut() throws {
        var g = TinyGGUF()
        // Dimension 0 makes the tensor an error whose message carries the name.
        g.tensors = [("evil\u{1B}[2J\nname", [0], 0, [])]
        assertFails(try g.write(), ["tensor evil\\u{1B}[2J\\u{A}name has dimension 0"])
        g.tensors = [(String(repeating: "n", count: 5000), [0], 0, [])]
        let long = try g.write()
        assertFails(long, ["… (5000 characters) has dimension 0"])
        XCTAssertThrowsError(try GGUFFile(path: long)) { XCTAssertLessThan("\($0)".count, long.count + 300) }
    }

    func testNamesThatAreNotUTF8ReachMessagesAsReplacementCharacters() throws {
        var g = TinyGGUF()
        g.tensors = [("bad\u{1}\u{1}", [0], 0, [])]
        var bytes = g.bytes
        let name = Array("bad\u{1}\u{1}".utf8)
        let at = try XCTUnwrap(bytes.indices.first { bytes[$0...].starts(with: name) }) + 3
        bytes.replaceSubrange(at..<at + 2, with: [0xFF, 0xC0])
        assertFails(try write(bytes), ["tensor bad\u{FFFD}\u{FFFD} has dimension 0"])
    }
}
