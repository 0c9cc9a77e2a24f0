/// Finds special and user-defined tokens (e.g. "<|im_end|>", Gemma's runs of newlines) in
/// raw text, leftmost-longest, as HuggingFace's added-token matching does. The text
/// between matches goes through the normal model.
struct SpecialTokenMatcher: Sendable {
    /// A byte trie: node 0 is the root; `children[node]` maps a byte to the child node.
    private var children: [[UInt8: Int32]] = [[:]]
    /// The token id ending at each node, -1 if none.
    private var tokenAtNode: [Int32] = [-1]

    var isEmpty: Bool { children[0].isEmpty }

    mutating func add(_ bytes: [UInt8], id: Int32) {
        guard !bytes.isEmpty else { return }
        var node = 0
        for b in bytes {
            if let child = children[node][b] {
                node = Int(child)
            } else {
                children.append([:])
                tokenAtNode.append(-1)
                children[node][b] = Int32(children.count - 1)
                node = children.count - 1
            }
        }
        if tokenAtNode[node] < 0 { tokenAtNode[node] = id }
    }

    /// Splits `text` into plain stretches and matched tokens, calling `plain` with each
    /// non-empty stretch's range and `special` with each match's id, in order.
    func split(_ text: UnsafeBufferPointer<UInt8>, plain: (Range<Int>) -> Void, special: (Int32) -> Void) {
        var stretchStart = 0
        var i = 0
        let root = children[0]
        while i < text.count {
            guard let first = root[text[i]] else { i += 1; continue }
            // Longest match starting at i.
            var node = Int(first), j = i + 1
            var best = (end: -1, id: Int32(-1))
            while true {
                if tokenAtNode[node] >= 0 { best = (j, tokenAtNode[node]) }
                guard j < text.count, let child = children[node][text[j]] else { break }
                node = Int(child)
                j += 1
            }
            if best.end < 0 { i += 1; continue }
            if stretchStart < i { plain(stretchStart..<i) }
            special(best.id)
            i = best.end
            stretchStart = i
        }
        if stretchStart < text.count { plain(stretchStart..<text.count) }
    }
}
