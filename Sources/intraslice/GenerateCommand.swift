import ArgumentParser
import Foundation
import LinAlg
import Transformer

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Greedy text continuation with the KV cache: a quick sanity check of a model."
    )

    @Option(help: "Model: registry name or GGUF path.") var model = "smollm2-135m"
    @Option(help: "The text to continue.") var prompt: String
    @Option(help: "Tokens to generate at most (stops early at end-of-sequence).") var maxTokens = 32
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard (1...8192).contains(maxTokens) else { throw ValidationError("--max-tokens must be between 1 and 8192, got \(maxTokens)") }
    }

    func run() throws {
        let threads = threadOptions.apply()
        let loaded = try ModelLoader.load(model)
        let promptIds = loaded.tokenizer.encode(Array(prompt.utf8), addSpecialTokens: true)
        guard !promptIds.isEmpty else { throw CommandError("the prompt is empty after tokenization") }
        let cache = KVCache(model: loaded.model, batch: 1, capacity: promptIds.count + maxTokens)
        let start = monotonicSeconds()
        var hidden = try loaded.model.hiddenStates(tokens: promptIds, cache: cache)
        var generated: [Int32] = []
        while generated.count < maxTokens {
            let logits = loaded.model.logits(hidden, rows: (hidden.rows - 1)..<hidden.rows)
            let next = Int32(logits.elements.indices.max { logits.elements[$0] < logits.elements[$1] }!)
            if next == loaded.tokenizer.eos { break }
            generated.append(next)
            FileHandle.standardOutput.write(Data(loaded.tokenizer.decode([next])))
            if generated.count < maxTokens { hidden = try loaded.model.hiddenStates(tokens: [next], cache: cache) }
        }
        let seconds = monotonicSeconds() - start
        let text = String(decoding: loaded.tokenizer.decode(generated), as: UTF8.self)
        print("")
        FileHandle.standardError.write(Data(String(format: "%d prompt + %d generated tokens in %.2f s, %d threads\n",
                                                   promptIds.count, generated.count, seconds, threads).utf8))
        if outputOptions.json {
            JSONOutput.emit(["command": "generate", "model": loaded.name, "prompt": prompt, "completion": text,
                             "prompt_tokens": promptIds.count, "generated_tokens": generated.count,
                             "token_ids": generated.map(Int.init), "seconds": seconds, "threads": threads])
        }
    }
}
