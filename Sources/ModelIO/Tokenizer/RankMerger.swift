/// BPE by merge rank (GPT-2, HuggingFace's BPE model): repeatedly merge the adjacent pair
/// of symbols with the lowest rank, leftmost first among equal ranks, until no pair of
/// the word has a merge rule.
struct RankMerger: Sendable {
    /// `left << 32 | right` → `rank << 32 | merged id`.
    private let rules: [UInt64: UInt64]

    init(rules: [UInt64: UInt64]) { self.rules = rules }

    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Merges `ids` in place (a linked list over the array, with a heap of candidate pairs
    /// keyed by rank then position, so long words cost n log n, not n²).
    func merge(_ ids: inout [Int32]) {
        let n = ids.count
        guard n > 1 else { return }
        var next = [Int32](unsafeUninitializedCapacity: n) { b, c in
            for i in 0..<n { b[i] = Int32(i + 1) }
            b[n - 1] = -1
            c = n
        }
        var prev = [Int32](unsafeUninitializedCapacity: n) { b, c in
            for i in 0..<n { b[i] = Int32(i - 1) }
            c = n
        }
        var heap = MinHeap()
        func push(_ left: Int) {
            let right = Int(next[left])
            guard right >= 0, let rule = rules[Self.key(ids[left], ids[right])] else { return }
            heap.push((rule >> 32) << 32 | UInt64(left))
        }
        for i in 0..<(n - 1) { push(i) }
        while let top = heap.pop() {
            let left = Int(top & 0xFFFF_FFFF)
            let rank = top >> 32
            let right = Int(next[left])
            // Entries go stale when a neighbour merged; the pair now at `left` is merged only
            // if it is still a rule of this rank (then it is the best pair present).
            guard ids[left] != -1, right >= 0, let rule = rules[Self.key(ids[left], ids[right])],
                  rule >> 32 == rank else { continue }
            ids[left] = Int32(truncatingIfNeeded: rule & 0xFFFF_FFFF)
            ids[right] = -1
            let after = next[right]
            next[left] = after
            if after >= 0 { prev[Int(after)] = Int32(left) }
            if prev[left] >= 0 { push(Int(prev[left])) }
            push(left)
        }
        ids.removeAll { $0 == -1 }
    }
}

extension RankMerger {
    /// Rules from the spec's merges, looked up in the tokenizer's table. A merge whose parts
    /// or result are not in the vocabulary can never apply and is left out.
    init(spec: TokenizerSpec, table: ByteSequenceTable, source: String) throws {
        func spelling(_ text: String) -> [UInt8]? {
            spec.model == .byteLevelBPE ? ByteLevelAlphabet.bytes(ofToken: text) : Array(text.utf8)
        }
        var rules: [UInt64: UInt64] = [:]
        rules.reserveCapacity(spec.merges.count)
        for (rank, (a, b)) in spec.merges.enumerated() {
            guard let left = spelling(a), let right = spelling(b),
                  let l = table.lookup(left), let r = table.lookup(right),
                  let merged = table.lookup(left + right) else { continue }
            let key = Self.key(l, r)
            if rules[key] == nil { rules[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged)) }
        }
        if rules.isEmpty && spec.tokens.count > 256 {
            throw TokenizerError(source: source, message: "none of the \(spec.merges.count) merges applies to the vocabulary")
        }
        self.init(rules: rules)
    }
}
