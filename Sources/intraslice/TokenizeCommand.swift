import ArgumentParser
import Datasets
import Foundation
import H5Store
import ModelIO
import Transformer

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenize a text with a model's tokenizer; the ids can be written as little-endian int32."
    )

    @Option(help: "Model whose tokenizer to use: registry name or GGUF path.") var model = "smollm2-135m"
    @Option(help: "Text: a file path or a registry text (wikitext2, wiki, c4, …).") var input: String
    @Option(help: "Write the ids here as little-endian int32.") var output: String?
    @Flag(help: "Do not add the tokenizer's default special tokens (e.g. Gemma's BOS).") var noSpecialTokens = false
    @OptionGroup var outputOptions: OutputOptions

    func run() throws {
        let destination = try output.map(OutputFile.init)
        let corpus = try TextCorpus.load(input)
        let tokenizer = try ModelLoader.tokenizer(model)
        let start = Date()
        let ids = tokenizer.encode(corpus.bytes, addSpecialTokens: !noSpecialTokens)
        let seconds = Date().timeIntervalSince(start)
        let data = ids.map(\.littleEndian).withUnsafeBytes { Data($0) }
        let hash = SHA256.hex(of: data)
        try destination?.write(data)
        print("\(corpus.name): \(corpus.bytes.count) bytes → \(ids.count) tokens in \(String(format: "%.2f", seconds)) s; ids SHA-256 \(hash)")
        if outputOptions.json {
            var json: [String: Any] = ["command": "tokenize", "model": model, "input": corpus.name, "bytes": corpus.bytes.count,
                                       "tokens": ids.count, "ids_sha256": hash, "special_tokens": !noSpecialTokens,
                                       "seconds": seconds]
            if let output { json["output"] = output }
            JSONOutput.emit(json)
        }
    }
}
