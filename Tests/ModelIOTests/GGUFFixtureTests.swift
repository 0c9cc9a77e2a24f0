import Foundation
import ModelIO
import XCTest

/// One entry of Fixtures/gguf-dequant.json (made by Baselines/gguf-dequant/make_fixture.py):
/// raw ggml blocks and the values gguf-py's independent numpy dequantizer gives for them.
struct GGUFFixtureEntry {
    let type: GGMLType
    let bytes: [UInt8]
    let values: [Float]
    /// "random", or the model id the blocks were taken from.
    let source: String
    let file: String?
    let tensor: String?
    let dimensions: [Int]?
    /// gguf-py's sums over the whole tensor, in float64.
    let sum: Double?
    let sumAbs: Double?

    static func load() throws -> [GGUFFixtureEntry] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/gguf-dequant.json")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let types = Dictionary(uniqueKeysWithValues: GGMLType.allCases.map { ($0.name, $0) })
        return try XCTUnwrap(json["entries"] as? [[String: Any]]).map { e in
            GGUFFixtureEntry(
                type: try XCTUnwrap(types[try XCTUnwrap(e["type"] as? String)]),
                bytes: [UInt8](try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(e["bytes"] as? String)))),
                values: try XCTUnwrap(e["values"] as? [NSNumber]).map { Float($0.doubleValue) },
                source: try XCTUnwrap(e["source"] as? String),
                file: e["file"] as? String, tensor: e["tensor"] as? String,
                dimensions: (e["dimensions"] as? [NSNumber])?.map(\.intValue),
                sum: (e["sum"] as? NSNumber)?.doubleValue, sumAbs: (e["sum_abs"] as? NSNumber)?.doubleValue)
        }
    }
}

/// Our values must equal gguf-py's bit for bit: both follow ggml's scalar arithmetic
/// in float32 (same operations, same order), so there is no rounding to tolerate.
func assertSameFloats(_ actual: ArraySlice<Float>, _ expected: [Float], _ what: String,
                      file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
    var mismatches = 0
    for (i, (a, e)) in zip(actual.indices, zip(actual, expected)) where a.bitPattern != e.bitPattern {
        if mismatches < 5 { XCTFail("\(what): value \(i - actual.startIndex) is \(a), gguf-py says \(e)", file: file, line: line) }
        mismatches += 1
    }
    if mismatches >= 5 { XCTFail("\(what): \(mismatches) values differ in all", file: file, line: line) }
}

final class GGUFFixtureTests: XCTestCase {
    func testEveryTypeMatchesGGUFPy() throws {
        let entries = try GGUFFixtureEntry.load()
        let dequantizable = GGMLType.allCases.filter(\.isDequantizable)
        XCTAssertEqual(Set(entries.filter { $0.source == "random" }.map(\.type)), Set(dequantizable))
        // Every quant type the cached models use comes with real blocks (ASSETS.md).
        let real = Set(entries.filter { $0.source != "random" }.map(\.type))
        XCTAssertTrue(real.isSuperset(of: [.q4_1, .q8_0, .f32, .q5_0, .q4_K, .q6_K]), "\(real)")

        for entry in entries {
            let count = entry.bytes.count / entry.type.bytesPerBlock * entry.type.blockSize
            XCTAssertEqual(count, entry.values.count, "\(entry.type) \(entry.source)")
            var out = [Float](repeating: .nan, count: count)
            entry.bytes.withUnsafeBytes { src in
                out.withUnsafeMutableBufferPointer { dst in
                    GGMLDequantizer.dequantize(entry.type, from: src.baseAddress!, count: count, into: dst.baseAddress!)
                }
            }
            assertSameFloats(out[...], entry.values, "\(entry.type) from \(entry.source) \(entry.tensor ?? "")")
        }
    }
}
