import ModelIO

/// The layers of a checkpoint that stays memory-mapped in its own file type (bf16, fp16,
/// fp32 or a GGUF quantization): layer i is read, converted to Float32 and assembled exactly
/// as a resident load would do it, and the mapped pages it touched are dropped again, so
/// that only the layer in hand counts against the memory budget.
public final class StreamedLayers: LayerSource {
    public let layerCount: Int
    private let inputWidths: [Int]
    private let counts: [(total: Int, shortcuts: Int)]
    private let read: (Int) throws -> LayerTensors
    private let assemble: (Int, LayerTensors, Int) throws -> DecoderLayer
    private let readVocabulary: () throws -> VocabularyMatrices
    private let releasePages: () -> Void

    /// Checks every layer once (shapes, finite values, widths from one layer to the next, as
    /// a resident load does) and remembers what it needs to build each one again later.
    init(layerCount: Int, firstInputWidth: Int, read: @escaping (Int) throws -> LayerTensors,
         assemble: @escaping (Int, LayerTensors, Int) throws -> DecoderLayer, vocabulary: @escaping () throws -> VocabularyMatrices,
         releasePages: @escaping () -> Void,
         progress: ((Int) -> Void)? = nil) throws {
        var widths: [Int] = [], counts: [(total: Int, shortcuts: Int)] = []
        var width = firstInputWidth
        for index in 0..<layerCount {
            let layer = try assemble(index, try read(index), width)
            releasePages()
            widths.append(width)
            counts.append((layer.parameterCount, layer.shortcutParameterCount))
            width = layer.outputWidth
            progress?(index + 1)
        }
        self.layerCount = layerCount
        inputWidths = widths
        self.counts = counts
        self.read = read
        self.assemble = assemble
        readVocabulary = vocabulary
        self.releasePages = releasePages
        outputWidth = width
    }

    /// Width of the stream the last layer leaves.
    public let outputWidth: Int

    public func layer(_ index: Int) throws -> DecoderLayer {
        defer { releasePages() }
        return try assemble(index, try read(index), inputWidths[index])
    }

    public func parameterCount(_ index: Int) -> (total: Int, shortcuts: Int) { counts[index] }

    /// The embedding and untied head, read and converted again from the mapped checkpoint
    /// (the same values the model was opened with).
    public func vocabulary() throws -> VocabularyMatrices { try readVocabulary() }
}
