/// Where a model's decoder layers come from while it runs. A resident model holds them all
/// in Float32; a streamed one keeps the checkpoint memory-mapped in its own file type and
/// converts one layer at a time, so a model larger than memory can still run.
public protocol LayerSource: AnyObject {
    var layerCount: Int { get }
    /// Layer `index` in Float32, exactly as a resident load would build it. The caller
    /// holds it only while it runs; the source releases the mapped pages it read.
    func layer(_ index: Int) throws -> DecoderLayer
    /// The Float32 size of layer `index`, from its shapes alone (nothing is converted).
    func layerBytes(_ index: Int) -> Int
}

/// The layers of a resident model, served by reference.
public final class ResidentLayers: LayerSource {
    public let layers: [DecoderLayer]

    public init(_ layers: [DecoderLayer]) { self.layers = layers }

    public var layerCount: Int { layers.count }
    public func layer(_ index: Int) throws -> DecoderLayer { layers[index] }
    public func layerBytes(_ index: Int) -> Int { 4 * layers[index].parameterCount }
}
