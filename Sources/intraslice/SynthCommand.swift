import ArgumentParser
import Evaluation
import Foundation
import H5Store
import ModelIO
import Transformer

struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a seeded random-weight checkpoint with a real model's shapes, config.json and a real tokenizer.",
        discussion: "HuggingFace's sharded safetensors layout and tensor names; synth.json records how it was made. "
            + "Shapes: \(SyntheticShape.all.map(\.name).joined(separator: ", "))."
    )

    @Option(help: "The real model whose shapes to use.") var shape: String
    @Option(help: "Stored type: bf16, fp16 or fp32.") var dtype = "bf16"
    @Option(help: "The output folder.") var output: String
    @Flag(help: "Replace the output folder if it is one intraslice wrote.") var overwrite = false
    @Option(help: "Model whose tokenizer (and so vocabulary size) to use: registry name or path.") var tokenizer = "smollm2-135m"
    @Option(help: "Seed of the random weights.") var seed: UInt64 = 0
    @Option(help: "Write only the first N layers (default: all of the shape's).") var layers: Int?
    @Option(help: "Shard size limit: bytes, or with KB/MB/GB (powers of 1000) or KiB/MiB/GiB.") var maxShardSize = "5GB"
    @OptionGroup var outputOptions: OutputOptions

    static let dtypes: [String: SafetensorsDType] = ["bf16": .bf16, "fp16": .f16, "fp32": .f32]

    func validate() throws { _ = try options() }

    func options() throws -> SyntheticCheckpointOptions {
        guard let real = SyntheticShape.named(shape) else {
            throw ValidationError("--shape must be one of \(SyntheticShape.all.map(\.name).joined(separator: ", ")), got '\(shape)'")
        }
        guard let stored = Self.dtypes[dtype] else { throw ValidationError("--dtype must be bf16, fp16 or fp32, got '\(dtype)'") }
        if let layers, !(1...real.config.numHiddenLayers).contains(layers) {
            throw ValidationError("--layers must be between 1 and \(real.config.numHiddenLayers) (\(shape)'s layers), got \(layers)")
        }
        guard let limit = Self.byteCount(maxShardSize), limit > 0 else {
            throw ValidationError("--max-shard-size must be a positive size such as 5GB, 500MB or 1048576, got '\(maxShardSize)'")
        }
        return SyntheticCheckpointOptions(shape: real, dtype: stored, seed: seed, layers: layers, tokenizer: tokenizer, maxShardBytes: limit)
    }

    /// A size as HuggingFace's `max_shard_size` takes it: "5GB" is 5·10⁹ bytes, "5GiB" 5·2³⁰.
    static func byteCount(_ text: String) -> Int? {
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
                                      ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1)]
        let (digits, scale) = units.first { text.hasSuffix($0.0) }.map { (String(text.dropLast($0.0.count)), $0.1) } ?? (text, 1)
        guard let value = Int(digits) else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: scale)
        return overflow ? nil : bytes
    }

    func run() throws {
        let options = try options()
        let destination = try OutputFolder(output, overwrite: overwrite)
        var line: ProgressLine?
        let record = try destination.assemble { folder in
            try SyntheticCheckpoint.write(options, to: folder) { done, total in
                if line == nil { line = ProgressLine("synth \(shape)", total: max(1, total >> 20), unit: "MiB") }
                line?.update(done: done >> 20, rateUnits: done >> 20)
            }
        }
        print("\(shape): \(record.parameters) parameters, \(record.numHiddenLayers) layers, vocabulary \(record.vocabSize) "
              + "(\(record.tokenizerSource)), \(record.dtype), seed \(record.seed): \(record.shards.count) shard(s) in \(output)")
        if outputOptions.json {
            JSONOutput.emit(["command": "synth", "shape": shape, "output": output, "parameters": record.parameters,
                             "num_hidden_layers": record.numHiddenLayers, "vocab_size": record.vocabSize,
                             "tokenizer_source": record.tokenizerSource, "dtype": record.dtype, "seed": record.seed,
                             "total_size": record.totalSize, "shards": record.shards])
        }
    }
}
