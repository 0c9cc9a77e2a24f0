import H5Store
import TestSupport
import XCTest

final class RoundTripTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try makeTemporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func testEveryTypeAndRankRoundTrips() throws {
        let file = path("types.h5")
        let writer = try H5Writer(path: file)
        let floats: [Float] = (0..<24).map { Float($0) * 0.25 - 3 }
        let doubles: [Double] = (0..<24).map { Double($0) / 7 }
        let int32s: [Int32] = [Int32.min, -1, 0, 1, Int32.max, 7]
        let int64s: [Int64] = [Int64.min, -1, 0, 1, Int64.max, 1 << 40]
        let bytes: [UInt8] = [0, 1, 127, 128, 255, 42]
        try writer.write(floats, shape: [2, 3, 4], to: "/a/floats")
        try writer.write(doubles, shape: [24], to: "/a/doubles")
        try writer.write(int32s, shape: [3, 2], to: "/b/int32")
        try writer.write(int64s, shape: [1, 2, 1, 3], to: "/b/c/int64")
        try writer.write(bytes, shape: [6], to: "/bytes")
        try writer.write([Double(3.5)], shape: [], to: "/scalar")
        try writer.write([Float](), shape: [0, 5], to: "/empty")
        try writer.commit()

        let reader = try H5Reader(path: file)
        XCTAssertEqual(try reader.read("/a/floats", as: Float.self, expectedShape: [2, 3, 4]), floats)
        XCTAssertEqual(try reader.read("/a/doubles", as: Double.self, expectedShape: [24]), doubles)
        XCTAssertEqual(try reader.read("/b/int32", as: Int32.self, expectedShape: [3, 2]), int32s)
        XCTAssertEqual(try reader.read("/b/c/int64", as: Int64.self, expectedShape: [1, 2, 1, 3]), int64s)
        XCTAssertEqual(try reader.read("/bytes", as: UInt8.self, expectedShape: [6]), bytes)
        XCTAssertEqual(try reader.read("/scalar", as: Double.self, expectedShape: []), [3.5])
        XCTAssertEqual(try reader.read("/empty", as: Float.self, expectedShape: [0, 5]), [])
        XCTAssertEqual(try reader.children(of: "/"), ["a", "b", "bytes", "empty", "scalar"])
        XCTAssertEqual(try reader.children(of: "/b"), ["c", "int32"])
        XCTAssertEqual(reader.kind(of: "/b/c"), .group)
        XCTAssertEqual(reader.kind(of: "/b/c/int64"), .dataset)
        XCTAssertNil(reader.kind(of: "/nothing/here"))
    }

    func testEveryAttributeKindRoundTrips() throws {
        let file = path("attributes.h5")
        let writer = try H5Writer(path: file)
        let values: [String: H5AttributeValue] = [
            "model": .string("SmolLM2-135M — ünïcödé ✓"),
            "empty": .string(""),
            "tasks": .strings(["piqa", "arc_easy", ""]),
            "windows": .int(-64),
            "ratios_int": .ints([10, 20, 25, 30]),
            "ppl": .double(12.3456789012345),
            "ratios": .doubles([0.1, 0.2, 0.25, 0.3]),
        ]
        try writer.setAttributes(values, on: "/")
        try writer.write([Float(1), 2], shape: [2], to: "/run/logits")
        try writer.setAttributes(values, on: "/run/logits")
        try writer.setAttribute("windows", .int(7), on: "/")  // replacing an attribute
        try writer.commit()

        let reader = try H5Reader(path: file)
        var expected = values
        expected["windows"] = .int(7)
        XCTAssertEqual(try reader.attributes(of: "/"), expected)
        XCTAssertEqual(try reader.attributes(of: "/run/logits"), values)
        XCTAssertEqual(try reader.attribute("ppl", of: "/run/logits").doubleValue, 12.3456789012345)
        XCTAssertThrowsError(try reader.attribute("missing", of: "/")) { error in
            XCTAssertTrue(String(describing: error).contains("no attribute 'missing'"))
        }
    }

    func testLargeArraysAreCompressedAndExact() throws {
        let file = path("large.h5")
        // 1 Mi floats with structure (highly compressible) and an incompressible random part.
        var values = (0..<(1 << 20)).map { Float($0 % 1000) }
        var rng = SystemRandomNumberGenerator()
        for i in 0..<1000 { values[i] = Float.random(in: -1...1, using: &rng) }
        let writer = try H5Writer(path: file)
        try writer.write(values, shape: [1024, 1024], to: "/activations/layer0")
        try writer.commit()
        let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as! Int
        XCTAssertLessThan(size, values.count * 4 / 4, "gzip should shrink the file well below the raw 4 MiB")
        XCTAssertEqual(try H5Reader(path: file).read("/activations/layer0", as: Float.self, expectedShape: [1024, 1024]), values)
    }

    func testShapeAndTypeMismatchesAreErrorsNamingTheFileAndDataset() throws {
        let file = path("checks.h5")
        let writer = try H5Writer(path: file)
        try writer.write([Float](repeating: 0, count: 6), shape: [2, 3], to: "/x")
        XCTAssertThrowsError(try writer.write([Float](repeating: 0, count: 5), shape: [2, 3], to: "/y"))
        try writer.commit()
        let reader = try H5Reader(path: file)
        XCTAssertThrowsError(try reader.read("/x", as: Float.self, expectedShape: [3, 2])) { error in
            XCTAssertEqual(String(describing: error), "\(file): dataset /x has shape [2, 3], expected [3, 2]")
        }
        XCTAssertThrowsError(try reader.read("/x", as: Double.self)) { error in
            XCTAssertEqual(String(describing: error), "\(file): dataset /x holds float32, not float64")
        }
        XCTAssertThrowsError(try reader.read("/x", as: Int32.self))
        XCTAssertThrowsError(try reader.read("/nope", as: Float.self)) { error in
            XCTAssertEqual(String(describing: error), "\(file): no dataset /nope")
        }
    }

    func testReplacingADataset() throws {
        let file = path("replace.h5")
        let writer = try H5Writer(path: file)
        try writer.write([Int64(1)], shape: [1], to: "/v")
        try writer.write([Int64(2), 3], shape: [2], to: "/v")
        try writer.commit()
        XCTAssertEqual(try H5Reader(path: file).read("/v", as: Int64.self).values, [2, 3])
    }

    func testProvenanceIsRecorded() throws {
        let file = path("provenance.h5")
        let writer = try H5Writer(path: file)
        try Provenance(extra: ["model_sha256": .string("abc"), "seqlen": .int(2048)]).write(to: writer)
        try writer.commit()
        let fields = try H5Reader(path: file).attributes(of: "/provenance")
        XCTAssertEqual(fields["model_sha256"], .string("abc"))
        XCTAssertEqual(fields["seqlen"], .int(2048))
        XCTAssertEqual(fields["harness_version"], .string(HarnessVersion.current))
        XCTAssertNotNil(fields["blas_threads"]?.intValue)
        XCTAssertEqual(fields["hdf5_version"]?.stringValue?.split(separator: ".").count, 3)
    }
}
