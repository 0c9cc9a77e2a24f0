import Foundation
import FuzzSupport
import ModelIO

/// A HuggingFace `tokenizer.json`, then encoding and decoding a short text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizerJSON(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let path = Fuzzing.write(UnsafeRawBufferPointer(start: start, count: count), to: "tokenizer.json")
    Fuzzing.expectErrorOrSuccess(naming: path) {
        let tokenizer = try Tokenizer(huggingFaceJSON: URL(fileURLWithPath: path))
        _ = tokenizer.decode(tokenizer.encode("Hello, world! 123 e\u{301}té\n\t<s></s><|end|>", addSpecialTokens: true))
    }
    return 0
}

@main enum Main { static func main() { Fuzzing.main(fuzzTokenizerJSON) } }
