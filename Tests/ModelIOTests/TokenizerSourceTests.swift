import Foundation
import ModelIO
import TestSupport
import XCTest

/// Building tokenizers from their two sources, a GGUF file's metadata and a HuggingFace
/// `tokenizer.json`, on tiny hand-written files; and the errors for what we do not support.
final class TokenizerSourceTests: XCTestCase {
    func writeJSON(_ text: String) throws -> URL {
        let url = try makeTemporaryFolder("tokenizer").appendingPathComponent("tokenizer.json")
        try Data(text.utf8).write(to: url)
        return url
    }

    func assertError(_ body: () throws -> Void, mentions fragments: [String], line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { error in
            let message = "\(error)"
            for fragment in fragments {
                XCTAssertTrue(message.contains(fragment), "\"\(message)\" does not mention \(fragment)", line: line)
            }
        }
    }

    /// A byte-level tokenizer.json (Qwen2's configuration) whose vocabulary holds "é" twice,
    /// precomposed and decomposed (a `[String: Int]` would merge the two keys), merges given
    /// both as "a b" strings and as [a, b] pairs, and an added special token.
    static let byteLevelJSON = """
    {"version": "1.0",
     "added_tokens": [{"id": 9, "content": "<|end|>", "special": true, "normalized": false}],
     "normalizer": {"type": "NFC"},
     "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
       {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+"},
        "behavior": "Isolated", "invert": false},
       {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}]},
     "post_processor": {"type": "ByteLevel"},
     "model": {"type": "BPE", "byte_fallback": false,
       "vocab": {"a": 0, "b": 1, "Ġ": 2, "Ã": 3, "©": 4, "Ã©": 5, "ab": 6, "Ġab": 7, "e\\u0301": 8},
       "merges": ["a b", ["Ġ", "ab"], "Ã ©"]}}
    """

    func testByteLevelTokenizerJSON() throws {
        let t = try Tokenizer(huggingFaceJSON: writeJSON(Self.byteLevelJSON))
        XCTAssertEqual(t.vocabularySize, 10)
        XCTAssertEqual(t.token(for: 8)?.unicodeScalars.count, 2)
        XCTAssertEqual(t.token(for: 5)?.unicodeScalars.count, 2)
        XCTAssertEqual(t.encode("ab ab", addSpecialTokens: true), [6, 7])
        // NFC turns "e" + U+0301 into "é" (C3 A9 → "Ã©").
        XCTAssertEqual(t.encode("ab e\u{301}<|end|>", addSpecialTokens: false).suffix(2), [5, 9])
        XCTAssertEqual(t.decodeString([6, 7, 2, 5, 9]), "ab ab é<|end|>")
        XCTAssertNil(t.bos)
        XCTAssertFalse(t.addsBOS)
    }

    /// A Llama-2 style tokenizer.json: spaces → "▁" with a prefix, byte fallback, BOS from
    /// the template.
    static let sentencePieceJSON = """
    {"added_tokens": [{"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true}],
     "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
     "pre_tokenizer": null,
     "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                               {"Sequence": {"id": "A", "type_id": 0}}]},
     "model": {"type": "BPE", "byte_fallback": true, "unk_token": "<unk>",
       "vocab": {"<unk>": 0, "<s>": 1, "<0xC3>": 2, "<0xA9>": 3, "▁": 4, "h": 5, "i": 6, "hi": 7, "▁hi": 8},
       "merges": ["h i", "▁ hi"]}}
    """

    func testSentencePieceTokenizerJSON() throws {
        let t = try Tokenizer(huggingFaceJSON: writeJSON(Self.sentencePieceJSON))
        XCTAssertTrue(t.addsBOS)
        XCTAssertEqual(t.bos, 1)
        XCTAssertEqual(t.encode("hi hi", addSpecialTokens: true), [1, 8, 8])
        // "é" is not in the vocabulary: its two bytes.
        XCTAssertEqual(t.encode("hié", addSpecialTokens: false), [8, 2, 3])
        XCTAssertEqual(t.decodeString([8, 2, 3, 8]), "hié hi")
    }

    func testMalformedTokenizerJSONNamesTheFile() throws {
        let broken = try writeJSON("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0,}")
        assertError({ _ = try Tokenizer(huggingFaceJSON: broken) }, mentions: [broken.path, "invalid JSON"])
        let noVocab = try writeJSON("{\"model\": {\"type\": \"BPE\"}}")
        assertError({ _ = try Tokenizer(huggingFaceJSON: noVocab) }, mentions: [noVocab.path, "model.vocab"])
        let unigram = try writeJSON("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}")
        assertError({ _ = try Tokenizer(huggingFaceJSON: unigram) }, mentions: [unigram.path, "Unigram"])
    }

    func testUnsupportedPreTokenizerInTokenizerJSON() throws {
        let json = Self.byteLevelJSON.replacingOccurrences(of: "\\\\p{N}| ?", with: "\\\\p{N}{1,2}| ?")
        let url = try writeJSON(json)
        assertError({ _ = try Tokenizer(huggingFaceJSON: url) }, mentions: [url.path, "unsupported pre_tokenizer Split"])
    }

    /// A GGUF with a byte-level tokenizer: the 256 bytes and one merge.
    func gguf(pre: String) -> TinyGGUF {
        var g = TinyGGUF()
        let bytes = (0..<256).map(TokenizerBPETests.spelling)
        g.metadata = [
            ("general.architecture", .string("llama")),
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string(pre)),
            ("tokenizer.ggml.tokens", .array((bytes + ["ab", "<|im_end|>"]).map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(([Int32](repeating: 1, count: 257) + [3]).map { .int32($0) })),
            ("tokenizer.ggml.merges", .array([.string("a b")])),
            ("tokenizer.ggml.eos_token_id", .uint32(257)),
            ("tokenizer.ggml.add_bos_token", .bool(false)),
        ]
        return g
    }

    func testTokenizerFromGGUFMetadata() throws {
        let t = try Tokenizer(gguf: GGUFFile(path: gguf(pre: "smollm").write()))
        XCTAssertEqual(t.vocabularySize, 258)
        XCTAssertEqual(t.eos, 257)
        XCTAssertNil(t.bos)
        XCTAssertEqual(t.encode("ab12<|im_end|>", addSpecialTokens: true), [256, 0x31, 0x32, 257])
        XCTAssertEqual(t.spec.preTokenizer, .smollm)
    }

    func testUnknownGGUFPreTokenizerIsNamed() throws {
        let path = try gguf(pre: "deepseek-coder").write()
        assertError({ _ = try Tokenizer(gguf: GGUFFile(path: path)) }, mentions: [path, "deepseek-coder", "tokenizer.ggml.pre"])
    }
}
