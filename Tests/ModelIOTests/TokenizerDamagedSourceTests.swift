import Foundation
import ModelIO
import TestSupport
import XCTest

/// Tokenizer sources with ids or structure that would crash or silently mislead.
extension TokenizerSourceTests {
    /// A SentencePiece GGUF tokenizer of 3 tokens with one special-token id set to `value`.
    func gguf(_ key: String, _ value: GGUFValue) throws -> String {
        var g = TinyGGUF()
        g.metadata = [
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.tokens", .array([.string("<unk>"), .string("a"), .string("b")])),
            ("tokenizer.ggml.scores", .array([.float32(0), .float32(-1), .float32(-1)])),
            ("tokenizer.ggml." + key, value),
        ]
        return try g.write()
    }

    func testGGUFSpecialTokenIdsMustBeTokenIds() throws {
        for key in ["bos_token_id", "eos_token_id", "unknown_token_id"] {
            for value: GGUFValue in [.int32(-1), .int64(-5_000_000_000), .uint64(1 << 40), .uint32(UInt32(Int32.max) + 1), .string("2")] {
                let path = try gguf(key, value)
                assertError({ _ = try Tokenizer(gguf: GGUFFile(path: path)) }, mentions: [path, "tokenizer.ggml.\(key) = ", "is not a token id"])
            }
            let outside = try gguf(key, .uint32(3))
            assertError({ _ = try Tokenizer(gguf: GGUFFile(path: outside)) }, mentions: [outside, "token id 3 is outside the vocabulary of 3"])
            XCTAssertNoThrow(try Tokenizer(gguf: GGUFFile(path: gguf(key, .uint32(2)))))
        }
    }


    func testHuggingFaceIdsBeyondTheVocabularyAreRefusedBeforeAllocating() throws {
        // An id of 10^14 would have the reader build a vocabulary of 10^14 tokens.
        let vocab = TokenizerSourceTests.byteLevelJSON.replacingOccurrences(of: #""ab": 6"#, with: #""ab": 100000000000000"#)
        let url = try writeJSON(vocab)
        assertError({ _ = try Tokenizer(huggingFaceJSON: url) }, mentions: [url.path, #"model.vocab["ab"] is not an id below 10"#])
        for id in ["100000000000000", "-1", "10"] {
            let added = TokenizerSourceTests.byteLevelJSON.replacingOccurrences(of: #""id": 9"#, with: #""id": "# + id)
            let url = try writeJSON(added)
            assertError({ _ = try Tokenizer(huggingFaceJSON: url) }, mentions: [url.path, "added token id \(id) is not an id below 10"])
        }
    }

    func testTemplateWithTwoTokensOnOneSideIsRefused() throws {
        let two = TokenizerSourceTests.sentencePieceJSON.replacingOccurrences(
            of: #"[{"SpecialToken": {"id": "<s>", "type_id": 0}},"#,
            with: #"[{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"SpecialToken": {"id": "<s>", "type_id": 0}},"#)
        XCTAssertNotEqual(two, TokenizerSourceTests.sentencePieceJSON)
        let url = try writeJSON(two)
        assertError({ _ = try Tokenizer(huggingFaceJSON: url) }, mentions: [url.path, "more than one special token before or after the sequence"])
    }

    func testDeeplyNestedTokenizerJSONIsAnErrorNotACrash() throws {
        let deep = #"{"model": "# + String(repeating: "[", count: 300_000) + String(repeating: "]", count: 300_000) + "}"
        let url = try writeJSON(deep)
        assertError({ _ = try Tokenizer(huggingFaceJSON: url) }, mentions: [url.path, "invalid JSON", "nested more than 64 deep"])
        // 64 levels are read.
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        XCTAssertNoThrow(try JSONValue.parse(Array(ok.utf8)))
        XCTAssertThrowsError(try JSONValue.parse(Array(("[" + ok + "]").utf8)))
    }
}
