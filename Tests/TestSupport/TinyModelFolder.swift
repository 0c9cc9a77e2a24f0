import LinAlg
import Transformer

extension TinyModels {
    /// Writes `model(variant)` as a checkpoint folder that the command-line tool loads like
    /// any model. A tiny model has no tokenizer of its own: it borrows `tokenizerSource`'s,
    /// and its embedding (and head) grow to that tokenizer's vocabulary, since every id the
    /// tokenizer produces must index a row.
    public static func writeFolder(_ variant: String, to folder: String, tokenizerSource: String) throws {
        var tiny = model(variant)
        let vocabulary = try ModelLoader.tokenizer(tokenizerSource).vocabularySize
        var rng = SeededGenerator(seed: 2)
        tiny.embedding = random(vocabulary, tiny.embeddingWidth, &rng, scale: 1)
        if tiny.lmHead != nil { tiny.lmHead = random(vocabulary, tiny.embeddingWidth, &rng) }
        tiny.config.vocabSize = vocabulary
        tiny.config.tokenizerSource = tokenizerSource
        try HFCheckpointWriter.write(tiny, to: folder)
    }
}
