/// SentencePiece BPE as llama.cpp runs a GGUF "llama" vocabulary: start from the UTF-8
/// characters of the (space-escaped) text, repeatedly merge the adjacent pair whose
/// concatenation is the vocabulary entry with the highest score (leftmost among equal
/// scores), then emit each final piece's id, or its bytes as `<0xXX>` tokens when the piece
/// is not in the vocabulary.
struct ScoreMerger: Sendable {
    let table: ByteSequenceTable
    let scores: [Float]
    /// The `<0xXX>` token of each byte, -1 where the vocabulary has none.
    let byteTokens: [Int32]
    let unknownID: Int32?

    /// Maps a score to a UInt32 that sorts the same way, inverted so that the min-heap
    /// pops the highest score first.
    private static func priority(_ score: Float) -> UInt64 {
        let bits = score.bitPattern
        let ordered = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        return UInt64(UInt32.max - ordered)
    }

    func encode(_ text: UnsafeBufferPointer<UInt8>, into output: inout [Int32]) {
        guard !text.isEmpty else { return }
        // Symbols: byte ranges of the text, initially one per UTF-8 character.
        var start: [Int32] = [], length: [Int32] = []
        var i = 0
        while i < text.count {
            let b = text[i]
            let n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
            let len = min(n, text.count - i)
            start.append(Int32(i))
            length.append(Int32(len))
            i += len
        }
        let count = start.count
        var next = (0..<count).map { Int32($0 + 1) }
        next[count - 1] = -1
        var prev = (0..<count).map { Int32($0 - 1) }
        var heap = MinHeap()

        func pairToken(_ left: Int) -> Int32? {
            let right = Int(next[left])
            guard right >= 0 else { return nil }
            let piece = UnsafeBufferPointer(rebasing: text[Int(start[left]) ..< Int(start[right] + length[right])])
            return table.lookup(piece)
        }
        func push(_ left: Int) {
            guard let id = pairToken(left) else { return }
            heap.push(Self.priority(scores[Int(id)]) << 32 | UInt64(left))
        }
        for k in 0..<(count - 1) { push(k) }
        while let top = heap.pop() {
            let left = Int(top & 0xFFFF_FFFF)
            // A stale entry is used only if the pair now at `left` still has this priority.
            guard length[left] > 0, let id = pairToken(left),
                  Self.priority(scores[Int(id)]) == top >> 32 else { continue }
            let right = Int(next[left])
            length[left] += length[right]
            length[right] = 0
            let after = next[right]
            next[left] = after
            if after >= 0 { prev[Int(after)] = Int32(left) }
            if prev[left] >= 0 { push(Int(prev[left])) }
            push(left)
        }
        var k = 0
        while k >= 0 {
            let piece = UnsafeBufferPointer(rebasing: text[Int(start[k]) ..< Int(start[k] + length[k])])
            if let id = table.lookup(piece) {
                output.append(id)
            } else {
                for b in piece {
                    let id = byteTokens[Int(b)]
                    if id >= 0 { output.append(id) } else if let unk = unknownID { output.append(unk) }
                }
            }
            k = Int(next[k])
        }
    }
}
