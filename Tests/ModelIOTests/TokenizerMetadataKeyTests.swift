import Foundation
import ModelIO
import TestSupport
import XCTest

/// A renamed tokenizer key must not leave a default in place: without `tokenizer.ggml.pre`
/// the default pre-tokenizer would split the text differently and every number after it
/// would change without a word.
extension TokenizerSourceTests {
    func testRenamedOrMistypedTokenizerKeysAreRefused() throws {
        var renamed = gguf(pre: "smollm")
        let index = renamed.metadata.firstIndex { $0.0 == "tokenizer.ggml.pre" }!
        renamed.metadata[index].0 = "tokenizer.ggml.pre_tokenizer"
        let renamedPath = try renamed.write()
        assertError({ _ = try Tokenizer(gguf: GGUFFile(path: renamedPath)) },
                    mentions: [renamedPath, "unknown metadata key 'tokenizer.ggml.pre_tokenizer'"])

        var mistyped = gguf(pre: "smollm")
        mistyped.metadata.removeAll { $0.0 == "tokenizer.ggml.add_bos_token" }
        mistyped.metadata.append(("tokenizer.ggml.add_bos_token", .uint8(1)))
        let mistypedPath = try mistyped.write()
        assertError({ _ = try Tokenizer(gguf: GGUFFile(path: mistypedPath)) },
                    mentions: [mistypedPath, "tokenizer.ggml.add_bos_token is not a boolean"])
    }
}
