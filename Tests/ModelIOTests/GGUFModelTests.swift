import Foundation
import ModelIO
import XCTest

/// The cached real models (skipped when not fetched). Only a few tensors are decoded in
/// debug builds; the whole-file pass runs in release builds, where it is also timed.
final class GGUFModelTests: XCTestCase {
    func cachedModel(_ id: String) throws -> GGUFFile {
        let asset = try XCTUnwrap(AssetRegistry.all.first { $0.id == id })
        guard asset.isPresent else { throw XCTSkip("\(id) is not cached; run \(asset.fetchCommand)") }
        return try GGUFFile(path: asset.url.path)
    }

    func testSmolLM2Metadata() throws {
        let file = try cachedModel("smollm2-135m")
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.architecture, "llama")
        XCTAssertEqual(file.metadata["llama.block_count"]?.intValue, 30)
        XCTAssertEqual(file.metadata["llama.embedding_length"]?.intValue, 576)
        XCTAssertEqual(file.metadata["llama.feed_forward_length"]?.intValue, 1536)
        XCTAssertEqual(file.metadata["llama.attention.head_count"]?.intValue, 9)
        XCTAssertEqual(file.metadata["llama.attention.head_count_kv"]?.intValue, 3)
        XCTAssertEqual(file.metadata["llama.rope.freq_base"]?.doubleValue, 100_000)
        XCTAssertEqual(file.metadata["llama.attention.layer_norm_rms_epsilon"]?.doubleValue, Double(Float(1e-5)))
        XCTAssertEqual(file.metadata["tokenizer.ggml.tokens"]?.stringArray?.count, 49152)
        XCTAssertEqual(file.metadata["tokenizer.ggml.merges"]?.stringArray?.count, 48900)
        XCTAssertEqual(file.metadata["tokenizer.ggml.token_type"]?.intArray?.count, 49152)
        XCTAssertEqual(file.metadata["tokenizer.ggml.pre"]?.stringValue, "smollm")

        // 30 blocks of 9 tensors, the token embedding (tied with the output) and the final norm.
        XCTAssertEqual(file.tensors.count, 30 * 9 + 2)
        var counts: [GGMLType: Int] = [:]
        for t in file.tensors { counts[t.type, default: 0] += 1 }
        XCTAssertEqual(counts, [.q4_1: 210, .q8_0: 1, .f32: 61])
        let embedding = try XCTUnwrap(file.tensor(named: "token_embd.weight"))
        XCTAssertEqual(embedding.type, .q8_0)
        XCTAssertEqual(embedding.shape, [49152, 576])
        XCTAssertEqual(file.tensor(named: "blk.0.attn_k.weight")?.shape, [192, 576])
        XCTAssertNil(file.tensor(named: "output.weight"))
        XCTAssertEqual(file.tensors.map(\.elementCount).reduce(0, +), 134_515_008)
    }

    /// The fixture's blocks were cut from these very files: the bytes must be the
    /// file's, and decoding the whole tensor must give gguf-py's first values and sums.
    func checkAgainstFixture(_ id: String) throws {
        let file = try cachedModel(id)
        let entries = try GGUFFixtureEntry.load().filter { $0.source == id }
        XCTAssertFalse(entries.isEmpty)
        for entry in entries {
            let info = try XCTUnwrap(file.tensor(named: try XCTUnwrap(entry.tensor)))
            XCTAssertEqual(info.type, entry.type, info.name)
            XCTAssertEqual(info.dimensions, entry.dimensions, info.name)
            XCTAssertEqual(Array(file.rawBytes(of: info).prefix(entry.bytes.count)), entry.bytes, info.name)
            #if DEBUG
            // Large tensors are slow to decode in debug builds: there, only the blocks.
            if info.elementCount > 2_000_000 {
                var prefix = [Float](repeating: .nan, count: entry.values.count)
                prefix.withUnsafeMutableBufferPointer {
                    GGMLDequantizer.dequantize(info.type, from: file.rawBytes(of: info).baseAddress!, count: $0.count, into: $0.baseAddress!)
                }
                assertSameFloats(prefix[...], entry.values, "\(id) \(info.name)")
                continue
            }
            #endif
            let values = try file.dequantize(info)
            assertSameFloats(values.prefix(entry.values.count), entry.values, "\(id) \(info.name)")
            // The sums differ from gguf-py's only by the order of the float64 additions.
            let sum = values.reduce(0.0) { $0 + Double($1) }, sumAbs = values.reduce(0.0) { $0 + Double(abs($1)) }
            XCTAssertEqual(sum, try XCTUnwrap(entry.sum), accuracy: 1e-9 * sumAbs, info.name)
            XCTAssertEqual(sumAbs, try XCTUnwrap(entry.sumAbs), accuracy: 1e-9 * sumAbs, info.name)
        }
    }

    func testSmolLM2TensorsMatchGGUFPy() throws { try checkAgainstFixture("smollm2-135m") }
    func testGemma3TensorsMatchGGUFPy() throws { try checkAgainstFixture("gemma3-270m") }
    func testQwen2TensorsMatchGGUFPy() throws { try checkAgainstFixture("qwen2.5-0.5b") }

    /// Dequantizes every tensor of SmolLM2 (release builds only) and reports the time.
    func testWholeSmolLM2FileDequantizes() throws {
        #if DEBUG
        throw XCTSkip("whole-model dequantization runs in release builds (swift test -c release)")
        #else
        let file = try cachedModel("smollm2-135m")
        let total = file.tensors.map(\.elementCount).reduce(0, +)
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: total)
        defer { buffer.deallocate() }
        let start = DispatchTime.now().uptimeNanoseconds
        var offset = 0
        for info in file.tensors {
            try file.dequantize(info, into: UnsafeMutableBufferPointer(rebasing: buffer[offset..<offset + info.elementCount]))
            offset += info.elementCount
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print("dequantized \(file.tensors.count) tensors, \(total) values of SmolLM2 in \(String(format: "%.3f", seconds)) s")
        XCTAssertTrue(buffer.allSatisfy(\.isFinite))
        XCTAssertLessThan(seconds, 10, "far slower than expected (about 1 s)")
        #endif
    }
}
