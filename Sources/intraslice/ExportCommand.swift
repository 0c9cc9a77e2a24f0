import ArgumentParser
import Foundation
import H5Store
import Transformer

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model (e.g. a dequantized GGUF) as a HuggingFace-style folder: config.json and F32 model.safetensors.",
        discussion: "Reference tools (transformers, TransformerCompression) can then load exactly the weights the harness uses."
    )

    @Option(help: "Model: a registry name, a GGUF path or a checkpoint folder.") var model = "smollm2-135m"
    @Option(help: "The output folder.") var output: String
    @Flag(help: "Replace the output folder if it is one intraslice wrote (a pruned or exported model).") var overwrite = false
    @OptionGroup var outputOptions: OutputOptions

    func run() throws {
        let destination = try OutputFolder(output, overwrite: overwrite)
        let loaded = try ModelLoader.load(model)
        let hash = try loaded.checkpointSHA256()
        try destination.assemble { folder in
            try HFCheckpointWriter.write(loaded.model, derivedFrom: loaded, to: folder, metadata: ["intraslice_source_sha256": hash])
        }
        let counts = loaded.model.parameterCounts
        print("\(loaded.name): \(counts.total) parameters written to \(output)")
        if outputOptions.json {
            JSONOutput.emit(["command": "export", "model": loaded.name, "output": output, "parameters": counts.total])
        }
    }
}
