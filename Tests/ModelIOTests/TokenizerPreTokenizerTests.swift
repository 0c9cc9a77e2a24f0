@testable import ModelIO
import XCTest

/// The hand-written split patterns, checked against what the regexes they stand for give
/// (worked out from the patterns in PreTokenizer.swift and checked with HuggingFace
/// `tokenizers` where noted).
final class TokenizerPreTokenizerTests: XCTestCase {
    func pieces(_ text: String, _ kind: PreTokenizerKind) -> [String] {
        let bytes = Array(text.utf8)
        var result: [String] = []
        bytes.withUnsafeBufferPointer { buffer in
            PreTokenizer(kind: kind).split(ScalarText(buffer)) { range in
                result.append(String(decoding: bytes[range], as: UTF8.self))
            }
        }
        return result
    }

    func testGPT2Pattern() {
        XCTAssertEqual(pieces("Hello world  again!!", .gpt2), ["Hello", " world", " ", " again", "!!"])
        XCTAssertEqual(pieces("it's 42 cats", .gpt2), ["it", "'s", " 42", " cats"])
        // Contractions are case-sensitive in GPT-2's pattern: "'S" is punctuation then a letter.
        XCTAssertEqual(pieces("IT'S", .gpt2), ["IT", "'", "S"])
        XCTAssertEqual(pieces("we're they've I'm we'll he'd don't", .gpt2),
                       ["we", "'re", " they", "'ve", " I", "'m", " we", "'ll", " he", "'d", " don", "'t"])
        // Trailing whitespace stays one piece; a single tab before a word is its own piece.
        XCTAssertEqual(pieces("a \t", .gpt2), ["a", " \t"])
        XCTAssertEqual(pieces("\tb", .gpt2), ["\t", "b"])
    }

    func testCRLFStaysTwoScalars() {
        // "\r\n" is one Character in Swift; the patterns must see two whitespace scalars.
        // HuggingFace: SmolLM "x\r\ny" → x, \r, \n, y; Qwen2 → x, \r\n, y.
        XCTAssertEqual(pieces("x\r\ny", .gpt2), ["x", "\r", "\n", "y"])
        XCTAssertEqual(pieces("x\r\ny", .qwen2), ["x", "\r\n", "y"])
        XCTAssertEqual(pieces("world\r\n\r\n = V", .gpt2), ["world", "\r\n\r\n", " =", " V"])
        XCTAssertEqual(pieces("world\r\n\r\n = V", .llama3), ["world", "\r\n\r\n", " =", " V"])
    }

    func testDigitsOwnPiecesForSmolLM() {
        // HuggingFace SmolLM2: " 1234567" → Ġ, 1, 2, …; "a1b22" → a, 1, b, 2, 2.
        XCTAssertEqual(pieces(" 123", .smollm), [" ", "1", "2", "3"])
        XCTAssertEqual(pieces("a1b22 3.5", .smollm), ["a", "1", "b", "2", "2", " ", "3", ".", "5"])
        XCTAssertEqual(pieces(" 123", .gpt2), [" 123"])
        // \p{N} includes other numbers, e.g. "²".
        XCTAssertEqual(pieces("x²", .smollm), ["x", "²"])
    }

    func testLlama3AndQwen2Patterns() {
        XCTAssertEqual(pieces("12345", .llama3), ["123", "45"])
        XCTAssertEqual(pieces("12345", .qwen2), ["1", "2", "3", "4", "5"])
        // Case-insensitive contractions.
        XCTAssertEqual(pieces("IT'S WE'RE", .qwen2), ["IT", "'S", " WE", "'RE"])
        XCTAssertEqual(pieces("it's", .llama3), ["it", "'s"])
        // One non-letter, non-digit scalar (not \r \n) may lead a word: "\tand", "(word".
        XCTAssertEqual(pieces("tab\tand\nnewline", .qwen2), ["tab", "\tand", "\n", "newline"])
        XCTAssertEqual(pieces("f(word)", .llama3), ["f", "(word", ")"])
        // Punctuation takes the newlines after it; whitespace runs end at their last newline.
        XCTAssertEqual(pieces("end.\n\nNext", .llama3), ["end", ".\n\n", "Next"])
        XCTAssertEqual(pieces("a  \n  b", .qwen2), ["a", "  \n", " ", " b"])
        XCTAssertEqual(pieces(" @-@ ", .qwen2), [" @-@", " "])
    }
}
