/// Where a model's decoder layers come from while it runs. A resident model holds them all
/// in Float32; a streamed one keeps the checkpoint memory-mapped in its own file type and
/// converts one layer at a time, so a model larger than memory can still run.
public protocol LayerSource: AnyObject {
    var layerCount: Int { get }
    /// Layer `index` in Float32, exactly as a resident load would build it. The caller
    /// holds it only while it runs; the source releases the mapped pages it read.
    func layer(_ index: Int) throws -> DecoderLayer
    /// Parameters of layer `index` (its Float32 size is 4 bytes each), and how many of them
    /// are SliceGPT shortcut matrices, known without converting it again.
    func parameterCount(_ index: Int) -> (total: Int, shortcuts: Int)
}

extension LayerSource {
    /// The Float32 size of the largest layer: what a streamed run holds of the weights.
    public var largestLayerBytes: Int { (0..<layerCount).map { 4 * parameterCount($0).total }.max() ?? 0 }
}

/// The layers of a resident model, served by reference.
public final class ResidentLayers: LayerSource {
    public let layers: [DecoderLayer]

    public init(_ layers: [DecoderLayer]) { self.layers = layers }

    public var layerCount: Int { layers.count }
    public func layer(_ index: Int) throws -> DecoderLayer { layers[index] }
    public func parameterCount(_ index: Int) -> (total: Int, shortcuts: Int) {
        (layers[index].parameterCount, layers[index].shortcutParameterCount)
    }
}
