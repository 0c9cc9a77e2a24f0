import Transformer

/// Moves the layers of a streamed model in and out while a method prunes it: a layer is
/// read from the checkpoint just before the method works on it and handed to the output as
/// soon as it is finished, so one layer at a time is held in Float32. The model the method
/// sees keeps `DecoderLayer.unloaded` in the other places.
public final class LayerStreaming {
    let source: LayerSource
    /// Receives each finished layer, in order (the pruned checkpoint's writer).
    let output: (Int, DecoderLayer) throws -> Void
    /// Parameters of the finished layers, in layer order.
    public private(set) var finishedCounts: [(total: Int, shortcuts: Int)] = []

    public init(source: LayerSource, output: @escaping (Int, DecoderLayer) throws -> Void) {
        self.source = source
        self.output = output
    }

    func load(_ index: Int, into model: inout TransformerModel) throws {
        precondition(model.layers[index].isUnloaded, "layer \(index) is already loaded")
        model.layers[index] = try source.layer(index)
    }

    func finish(_ index: Int, in model: inout TransformerModel) throws {
        let layer = model.layers[index]
        try output(index, layer)
        finishedCounts.append((layer.parameterCount, layer.shortcutParameterCount))
        model.layers[index] = .unloaded
    }
}
