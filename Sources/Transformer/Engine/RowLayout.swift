/// How the rows of a forward call form sequences.
enum RowLayout {
    /// `batch` sequences of `length` rows each at positions `firstPosition`…, continuing
    /// the cached sequences when there is a cache.
    case batched(batch: Int, length: Int, firstPosition: Int, cache: KVCache?)
    /// Documents of trunks and branches (see `PackedSequences`).
    case packed(PackedSequences)

    /// Keys one query row may see at most: the attention scratch is sized by it.
    var maximumKeys: Int {
        switch self {
        case .batched(_, let length, let firstPosition, _): return firstPosition + length
        case .packed(let packed): return packed.widestDocument
        }
    }

    /// Positions of the rows of one run, and how many runs of that shape follow each other.
    var positionRuns: (positions: [Int], runs: Int) {
        switch self {
        case .batched(let batch, let length, let firstPosition, _): return (Array(firstPosition..<(firstPosition + length)), batch)
        case .packed(let packed): return (packed.positions, 1)
        }
    }
}
