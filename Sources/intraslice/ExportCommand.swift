import ArgumentParser
import Foundation
import Transformer

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model (e.g. a dequantized GGUF) as a HuggingFace-style folder: config.json and F32 model.safetensors.",
        discussion: "Reference tools (transformers, TransformerCompression) can then load exactly the weights the harness uses."
    )

    @Option(help: "Model: a registry name, a GGUF path or a checkpoint folder.") var model = "smollm2-135m"
    @Option(help: "The output folder.") var output: String
    @OptionGroup var outputOptions: OutputOptions

    func run() throws {
        let loaded = try ModelLoader.load(model)
        try HFCheckpointWriter.write(loaded.model, derivedFrom: loaded, to: output,
                                     metadata: ["intraslice_source_sha256": try loaded.checkpointSHA256()])
        let counts = loaded.model.parameterCounts
        print("\(loaded.name): \(counts.total) parameters written to \(output)")
        if outputOptions.json {
            JSONOutput.emit(["command": "export", "model": loaded.name, "output": output, "parameters": counts.total])
        }
    }
}
