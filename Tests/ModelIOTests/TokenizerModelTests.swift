import Foundation
import H5Store
import ModelIO
import XCTest

/// The tokenizers of the cached real models on the whole WikiText-2 test file, against the
/// HuggingFace `tokenizers` reference in Baselines/tokenizers/reference_ids.json (made by
/// Baselines/tokenizers/reference_ids.py): same id count, same SHA-256 of the ids as
/// little-endian int32, and decoding gives the file back byte for byte.
final class TokenizerModelTests: XCTestCase {
    struct Reference {
        let count: Int
        let sha256: String
        let first64: [Int32]
        let last16: [Int32]
        /// The full id stream, when the machine that made the reference is this one.
        let idsFile: String?
        let tricky: [String: [Int32]]
    }

    static let referenceURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Baselines/tokenizers/reference_ids.json")

    func reference(_ model: String, mode: String) throws -> Reference {
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: Self.referenceURL)) as? [String: Any])
        let models = try XCTUnwrap(json["models"] as? [String: Any])
        let entry = try XCTUnwrap(models[model] as? [String: Any], "\(model) missing from reference_ids.json")
        let modes = try XCTUnwrap(entry["modes"] as? [String: Any])
        let m = try XCTUnwrap(modes[mode] as? [String: Any])
        let ids = { (key: String) in try XCTUnwrap(m[key] as? [NSNumber]).map { Int32($0.intValue) } }
        var tricky: [String: [Int32]] = [:]
        // Swift compares strings by canonical equivalence, so the JSON's NFC and NFD spellings
        // of "naïve café" collapse into one dictionary key (with the other's value); those
        // entries are skipped here and the decomposed one is checked by `check` itself.
        for (text, value) in (entry["tricky"] as? [String: Any]) ?? [:] {
            guard let v = value as? [String: Any], v["nfc_changes_input"] as? Bool == false,
                  let ids = v[mode] as? [NSNumber] else { continue }
            tricky[text] = ids.map { Int32($0.intValue) }
        }
        return Reference(count: try XCTUnwrap(m["count"] as? Int), sha256: try XCTUnwrap(m["sha256"] as? String),
                         first64: try ids("first64"), last16: try ids("last16"),
                         idsFile: m["ids_file"] as? String, tricky: tricky)
    }

    func cachedTokenizer(_ id: String) throws -> Tokenizer {
        let asset = try XCTUnwrap(AssetRegistry.all.first { $0.id == id })
        guard asset.isPresent else { throw XCTSkip("\(id) is not cached; run \(asset.fetchCommand)") }
        return try Tokenizer(gguf: GGUFFile(path: asset.url.path))
    }

    func wikitext() throws -> [UInt8] {
        let asset = try XCTUnwrap(AssetRegistry.all.first { $0.id == "wikitext2" })
        guard asset.isPresent else { throw XCTSkip("WikiText-2 is not cached; run \(asset.fetchCommand)") }
        return [UInt8](try Data(contentsOf: asset.url))
    }

    static func sha256(of ids: [Int32]) -> String {
        var hash = SHA256()
        let littleEndian = ids.map { $0.littleEndian }
        littleEndian.withUnsafeBytes { hash.update($0) }
        return hash.finalizeHex()
    }

    /// Where two id streams first differ, for the failure message.
    func firstDivergence(_ ids: [Int32], _ reference: Reference) -> String {
        if let path = reference.idsFile, let data = FileManager.default.contents(atPath: path) {
            let expected = data.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }.map { Int32(littleEndian: $0) }
            let n = min(ids.count, expected.count)
            guard let i = (0..<n).first(where: { ids[$0] != expected[$0] }) else { return "one stream is a prefix of the other" }
            return "first divergence at id \(i): ours \(Array(ids[i..<min(i + 8, ids.count)])), "
                + "reference \(Array(expected[i..<min(i + 8, expected.count)]))"
        }
        if let i = zip(ids, reference.first64).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset { return "first divergence at id \(i)" }
        return "the first 64 ids agree"
    }

    /// `decomposed`: the reference ids of "naïve café" written in NFD (from reference_ids.json).
    func check(_ model: String, mode: String, addSpecialTokens: Bool, decomposed: [Int32]) throws {
        let tokenizer = try cachedTokenizer(model)
        let text = try wikitext()
        let expected = try reference(model, mode: mode)

        let start = Date()
        let ids = tokenizer.encode(text, addSpecialTokens: addSpecialTokens)
        let encodeSeconds = Date().timeIntervalSince(start)
        let hash = Self.sha256(of: ids)
        print("\(model) \(mode): \(ids.count) ids, sha256 \(hash), encoded in \(String(format: "%.2f", encodeSeconds)) s")
        XCTAssertEqual(Array(ids.prefix(64)), expected.first64, model)
        XCTAssertEqual(Array(ids.suffix(16)), expected.last16, model)
        XCTAssertEqual(ids.count, expected.count, model)
        XCTAssertEqual(hash, expected.sha256, "\(model): \(firstDivergence(ids, expected))")

        for (string, want) in expected.tricky.sorted(by: { $0.key < $1.key }) {
            XCTAssertEqual(tokenizer.encode(string, addSpecialTokens: addSpecialTokens), want, "\(model): \(string.debugDescription)")
        }

        XCTAssertEqual(tokenizer.encode(Array("nai\u{308}ve cafe\u{301}".utf8), addSpecialTokens: addSpecialTokens), decomposed, "\(model): NFD text")

        if !addSpecialTokens {
            let decodeStart = Date()
            let decoded = tokenizer.decode(ids)
            print("\(model): decoded in \(String(format: "%.2f", Date().timeIntervalSince(decodeStart))) s")
            XCTAssertTrue(decoded == text, "\(model): decode(encode(text)) differs from the text")
        }
    }

    static let smolDecomposed: [Int32] = [40143, 151, 226, 307, 1020, 4565, 151, 219]
    static let gemmaDecomposed: [Int32] = [41461, 241151, 560, 24364, 238288]
    /// NFC first: the same ids as the precomposed text.
    static let qwenDecomposed: [Int32] = [3376, 37572, 586, 51950]

    func testSmolLM2() throws {
        try check("smollm2-135m", mode: "nospecial", addSpecialTokens: false, decomposed: Self.smolDecomposed)
    }
    func testSmolLM2Default() throws {
        try check("smollm2-135m", mode: "default", addSpecialTokens: true, decomposed: Self.smolDecomposed)
    }
    func testGemma3() throws {
        try check("gemma3-270m", mode: "nospecial", addSpecialTokens: false, decomposed: Self.gemmaDecomposed)
    }
    func testGemma3Default() throws {
        try check("gemma3-270m", mode: "default", addSpecialTokens: true, decomposed: [2] + Self.gemmaDecomposed)
    }
    func testQwen25() throws {
        try check("qwen2.5-0.5b", mode: "nospecial", addSpecialTokens: false, decomposed: Self.qwenDecomposed)
    }
    func testQwen25Default() throws {
        try check("qwen2.5-0.5b", mode: "default", addSpecialTokens: true, decomposed: Self.qwenDecomposed)
    }
}
