import Transformer

/// Moves the layers of a streamed model in and out while a method prunes it: a layer is
/// read from the checkpoint just before the method works on it and handed to the output as
/// soon as it is finished, so one layer at a time is held in Float32. The model the method
/// sees keeps `DecoderLayer.unloaded` in the other places.
///
/// The embedding and the head are needed only to embed the calibration windows, which a
/// method does before it asks for its first layer, and for the write: in between they are
/// released (1.5 GiB at 7B width) and `restoreVocabulary` reads them again.
public final class LayerStreaming {
    let source: StreamedLayers
    /// Receives each finished layer, in order (the pruned checkpoint's writer).
    let output: (Int, DecoderLayer) throws -> Void
    /// Parameters of the finished layers, in layer order.
    public private(set) var finishedCounts: [(total: Int, shortcuts: Int)] = []
    private var vocabularyReleased = false

    public init(source: StreamedLayers, output: @escaping (Int, DecoderLayer) throws -> Void) {
        self.source = source
        self.output = output
    }

    func load(_ index: Int, into model: inout TransformerModel) throws {
        precondition(model.layers[index].isUnloaded, "layer \(index) is already loaded")
        if !vocabularyReleased {
            model.releaseVocabulary()
            vocabularyReleased = true
        }
        model.layers[index] = try source.layer(index)
    }

    func finish(_ index: Int, in model: inout TransformerModel) throws {
        try replay(index, model.layers[index])
        model.layers[index] = .unloaded
    }

    /// Hands over finished layer `index` (also as a resumed prune finds it in its saved
    /// state, without loading it into the model).
    func replay(_ index: Int, _ layer: DecoderLayer) throws {
        precondition(index == finishedCounts.count, "finished layers are replayed in order")
        try output(index, layer)
        finishedCounts.append((layer.parameterCount, layer.shortcutParameterCount))
    }

    /// Puts back the embedding and head released when the first layer was loaded.
    public func restoreVocabulary(into model: inout TransformerModel) throws {
        guard vocabularyReleased else { return }
        let vocabulary = try source.vocabulary()
        model.embedding = vocabulary.embedding
        model.lmHead = vocabulary.lmHead
        vocabularyReleased = false
    }
}
