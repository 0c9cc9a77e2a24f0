import Foundation
import ModelIO
import XCTest

/// SentencePiece-style BPE on tiny hand-made vocabularies: merges chosen by score (GGUF
/// "llama" vocabularies, as llama.cpp does), byte fallback, the dummy prefix, user-defined
/// tokens.
final class TokenizerSentencePieceTests: XCTestCase {
    static let byteTokens = (0..<256).map { String(format: "<0x%02X>", $0) }

    /// Tokens: <unk>, <s>, </s>, the 256 byte tokens (ids 3…258), then `pieces` from id 259.
    func tokenizer(_ pieces: [(String, Float)], userDefined: [String] = [], prefix: Bool = false,
                   addsBOS: Bool = true) throws -> Tokenizer {
        let tokens = ["<unk>", "<s>", "</s>"] + Self.byteTokens + pieces.map(\.0) + userDefined
        let scores = [Float](repeating: 0, count: 259) + pieces.map(\.1) + userDefined.map { _ in 0 }
        let types: [TokenizerSpec.TokenType] = [.unknown, .control, .control]
            + [TokenizerSpec.TokenType](repeating: .byte, count: 256)
            + [TokenizerSpec.TokenType](repeating: .normal, count: pieces.count)
            + [TokenizerSpec.TokenType](repeating: .userDefined, count: userDefined.count)
        let spec = TokenizerSpec(model: .sentencePieceScores, tokens: tokens, scores: scores, tokenTypes: types,
                                 bosID: 1, eosID: 2, unknownID: 0, addsBOS: addsBOS, addsSpacePrefix: prefix)
        return try Tokenizer(spec: spec, source: "test")
    }

    func testHighestScoreMergesFirst() throws {
        // ids: ▁ 259, a 260, b 261, c 262, ab 263, bc 264
        let bcWins = try tokenizer([("▁", -1), ("a", -2), ("b", -2), ("c", -2), ("ab", -5), ("bc", -3)])
        XCTAssertEqual(bcWins.encode("abc", addSpecialTokens: false), [260, 264])
        let abWins = try tokenizer([("▁", -1), ("a", -2), ("b", -2), ("c", -2), ("ab", -3), ("bc", -5)])
        XCTAssertEqual(abWins.encode("abc", addSpecialTokens: false), [263, 262])
        // Equal scores: the leftmost pair.
        let tie = try tokenizer([("▁", -1), ("a", -2), ("b", -2), ("c", -2), ("ab", -4), ("bc", -4)])
        XCTAssertEqual(tie.encode("abc", addSpecialTokens: false), [263, 262])
    }

    func testMergesNeedNoRuleOnlyAVocabularyEntry() throws {
        // "▁ab" forms from "▁a" + "b" because "▁ab" is in the vocabulary with a high score.
        let t = try tokenizer([("▁", -1), ("a", -2), ("b", -2), ("▁a", -3), ("▁ab", -1)])
        XCTAssertEqual(t.encode(" ab", addSpecialTokens: false), [263])
        XCTAssertEqual(t.decode([263]), Array(" ab".utf8))
    }

    func testByteFallbackAndBOS() throws {
        let t = try tokenizer([("▁", -1), ("a", -2)])
        // "é" (C3 A9) and "\r" are not in the vocabulary: their bytes' <0xXX> tokens.
        XCTAssertEqual(t.encode("a\u{E9}\r", addSpecialTokens: true), [1, 260, 3 + 0xC3, 3 + 0xA9, 3 + 0x0D])
        XCTAssertEqual(t.decode([260, 3 + 0xC3, 3 + 0xA9, 3 + 0x0D]), Array("a\u{E9}\r".utf8))
        XCTAssertEqual(t.encode("\r\n", addSpecialTokens: false), [3 + 0x0D, 3 + 0x0A])
    }

    func testSpacePrefixAndUserDefinedTokens() throws {
        // The dummy prefix (Llama-2) goes before the text and after special tokens;
        // user-defined tokens such as a double newline are matched before merging.
        let t = try tokenizer([("▁", -1), ("a", -2), ("▁a", -1)], userDefined: ["\n\n"], prefix: true)
        XCTAssertEqual(t.encode("a", addSpecialTokens: true), [1, 261])
        XCTAssertEqual(t.encode("a\n\na", addSpecialTokens: false), [261, 262, 261])
        XCTAssertEqual(t.encode("a</s>a", addSpecialTokens: false), [261, 2, 261])
        // Decoding removes the prefix again.
        XCTAssertEqual(t.decodeString(t.encode("a a", addSpecialTokens: false)), "a a")
        let gemmaLike = try tokenizer([("▁", -1), ("a", -2), ("▁a", -1)], prefix: false)
        XCTAssertEqual(gemmaLike.encode("a a", addSpecialTokens: false), [260, 261])
    }
}
