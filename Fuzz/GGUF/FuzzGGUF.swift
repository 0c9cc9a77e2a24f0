import FuzzSupport
import ModelIO

/// A GGUF file: the header and metadata, every tensor that can be dequantized, then the
/// tokenizer its metadata describes, encoding and decoding a short text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let path = Fuzzing.write(UnsafeRawBufferPointer(start: start, count: count), to: "model.gguf")
    Fuzzing.expectErrorOrSuccess(naming: path) {
        let file = try GGUFFile(path: path)
        for tensor in file.tensors where tensor.type.isDequantizable { _ = try file.dequantize(tensor) }
        let tokenizer = try Tokenizer(gguf: file)
        _ = tokenizer.decode(tokenizer.encode("Hello, world! 123 e\u{301}té\n\t<s></s>", addSpecialTokens: true))
    }
    return 0
}

@main enum Main { static func main() { Fuzzing.main(fuzzGGUF) } }
