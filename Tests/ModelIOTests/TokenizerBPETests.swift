import Foundation
import ModelIO
import XCTest

/// Byte-level BPE on a tiny hand-made vocabulary: the 256 single bytes (ids 0…255, spelled
/// in GPT-2's byte alphabet) and a few merged tokens.
final class TokenizerBPETests: XCTestCase {
    /// GPT-2's byte alphabet, written independently of the implementation.
    static func spelling(_ byte: Int) -> String {
        let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
        if printable { return String(Unicode.Scalar(UInt8(byte))) }
        let rank = (0..<byte).filter { !((33...126).contains($0) || (161...172).contains($0) || (174...255).contains($0)) }.count
        return String(Unicode.Scalar(UInt32(256 + rank))!)
    }

    static func spell(_ text: String) -> String { text.utf8.map { spelling(Int($0)) }.joined() }

    /// `merges` are written as text; `spelledMerges` (appended after them) in the byte
    /// alphabet already, for parts that are not whole UTF-8 characters.
    func tokenizer(extra: [String], merges: [(String, String)], spelledMerges: [(String, String)] = [],
                   pre: PreTokenizerKind = .gpt2, nfc: Bool = false, special: [String] = []) throws -> Tokenizer {
        let tokens = (0..<256).map(Self.spelling) + extra.map(Self.spell) + special
        let types = [TokenizerSpec.TokenType](repeating: .normal, count: 256 + extra.count)
            + [TokenizerSpec.TokenType](repeating: .control, count: special.count)
        let spec = TokenizerSpec(model: .byteLevelBPE, preTokenizer: pre, normalizesNFC: nfc, tokens: tokens,
                                 merges: merges.map { (Self.spell($0.0), Self.spell($0.1)) } + spelledMerges, tokenTypes: types)
        return try Tokenizer(spec: spec, source: "test")
    }

    func ids(_ text: String) -> [Int32] { text.utf8.map { Int32($0) } }

    func testMergeOrderFollowsRank() throws {
        // "abc": with "b c" ranked first, "bc" forms and "a b" can no longer apply.
        let bcFirst = try tokenizer(extra: ["ab", "bc"], merges: [("b", "c"), ("a", "b")])
        XCTAssertEqual(bcFirst.encode("abc", addSpecialTokens: false), [ids("a")[0], 257])
        let abFirst = try tokenizer(extra: ["ab", "bc"], merges: [("a", "b"), ("b", "c")])
        XCTAssertEqual(abFirst.encode("abc", addSpecialTokens: false), [256, ids("c")[0]])
    }

    func testRepeatedPairsMergeLeftmostFirst() throws {
        let t = try tokenizer(extra: ["aa", "aaa"], merges: [("a", "a"), ("aa", "a")])
        // "aaaa": "aa" "aa" (leftmost pairs first), and "aa a" never forms.
        XCTAssertEqual(t.encode("aaaa", addSpecialTokens: false), [256, 256])
        XCTAssertEqual(t.encode("aaa", addSpecialTokens: false), [257])
    }

    func testMergesStayInsidePreTokens() throws {
        // " a" would merge, but GPT-2's pattern keeps the space with the word after it only.
        let t = try tokenizer(extra: [" a", "a "], merges: [("a", " "), (" ", "a")])
        XCTAssertEqual(t.encode("a a", addSpecialTokens: false), [ids("a")[0], 256])
    }

    func testBytesRoundTripIncludingInvalidUTF8AndCRLF() throws {
        let t = try tokenizer(extra: [], merges: [])
        let bytes: [UInt8] = [0x48, 0x0D, 0x0A, 0xFF, 0xC3, 0xA9, 0xE2, 0x96, 0x20, 0x31]
        let encoded = t.encode(bytes, addSpecialTokens: false)
        XCTAssertEqual(encoded, bytes.map { Int32($0) })
        XCTAssertEqual(t.decode(encoded), bytes)
    }

    func testNFCForQwen2() throws {
        let t = try tokenizer(extra: ["é"], merges: [], spelledMerges: [("Ã", "©")], pre: .qwen2, nfc: true)
        // "é" precomposed is C3 A9, merged into one token; the decomposed "e" + U+0301 becomes
        // the same after NFC.
        XCTAssertEqual(t.encode("caf\u{E9}", addSpecialTokens: false), ids("caf") + [256])
        XCTAssertEqual(t.encode("cafe\u{301}", addSpecialTokens: false), ids("caf") + [256])
        let noNFC = try tokenizer(extra: ["é"], merges: [], spelledMerges: [("Ã", "©")], pre: .gpt2)
        XCTAssertEqual(noNFC.encode("cafe\u{301}", addSpecialTokens: false), ids("cafe\u{301}"))
    }

    func testSpecialTokensInTextAreMatchedWhole() throws {
        let t = try tokenizer(extra: ["<|"], merges: [("<", "|")], special: ["<|end|>"])
        XCTAssertEqual(t.encode("a<|end|>b<|", addSpecialTokens: false), ids("a") + [257] + ids("b") + [256])
        XCTAssertEqual(t.decode([257]), Array("<|end|>".utf8))
    }
}
