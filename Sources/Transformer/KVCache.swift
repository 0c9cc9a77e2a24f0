/// Keys (after RoPE) and values of every layer for a batch of sequences that advance
/// together, so decoding a token costs one row of work per layer instead of a new prefill.
public final class KVCache {
    public let batch: Int
    public let capacity: Int
    /// Positions already cached (the same for every sequence of the batch).
    public private(set) var length = 0
    /// Per layer: [batch][kvHead][capacity][qkHeadDim] and [batch][kvHead][capacity][vHeadDim].
    var keys: [[Float]]
    var values: [[Float]]

    public init(model: TransformerModel, batch: Int, capacity: Int) {
        self.batch = batch
        self.capacity = capacity
        keys = model.layers.map { [Float](repeating: 0, count: batch * $0.attention.numKVHeads * capacity * $0.attention.qkHeadDim) }
        values = model.layers.map { [Float](repeating: 0, count: batch * $0.attention.numKVHeads * capacity * $0.attention.vHeadDim) }
    }

    func advance(by n: Int) { length += n }

    /// Forgets everything cached, keeping the memory.
    public func reset() { length = 0 }

    /// Forgets the positions from `newLength` on (e.g. to score several continuations of
    /// one shared prefix, or to time decode steps at a fixed cache length).
    public func truncate(to newLength: Int) {
        precondition(newLength >= 0 && newLength <= length, "cannot truncate a cache of \(length) to \(newLength)")
        length = newLength
    }
}
