/// The state of one `encode` call: the pre-token cache (a word such as " the" is merged
/// once per call, not thousands of times) and the model-specific encoding of plain text,
/// i.e. text between special tokens.
struct EncodeSession {
    let tokenizer: Tokenizer
    private var cache: [[UInt8]: [Int32]] = [:]

    init(tokenizer: Tokenizer) { self.tokenizer = tokenizer }

    /// `atStart`: the text starts the input or follows a special token, where SentencePiece
    /// puts its dummy prefix space (as llama.cpp does).
    mutating func encodePlain(_ text: UnsafeBufferPointer<UInt8>, atStart: Bool, into output: inout [Int32]) {
        let spec = tokenizer.spec
        switch spec.model {
        case .byteLevelBPE:
            let scalars = ScalarText(text)
            tokenizer.preTokenizer.split(scalars) { range in
                encodeWord(UnsafeBufferPointer(rebasing: text[range]), into: &output)
            }
        case .sentencePieceScores:
            let escaped = escape(text, prefix: atStart && spec.addsSpacePrefix)
            escaped.withUnsafeBufferPointer { tokenizer.scoreMerger!.encode($0, into: &output) }
        case .sentencePieceMerges:
            let escaped = escape(text, prefix: atStart && spec.addsSpacePrefix)
            output += mergeCharacters(escaped)
        }
    }

    /// One byte-level pre-token: bytes → single-byte tokens → merges.
    private mutating func encodeWord(_ word: UnsafeBufferPointer<UInt8>, into output: inout [Int32]) {
        let key = Array(word)
        if let ids = cache[key] { output += ids; return }
        var ids: [Int32]
        if tokenizer.spec.ignoresMerges, let whole = tokenizer.table.lookup(word) {
            ids = [whole]
        } else {
            ids = []
            ids.reserveCapacity(word.count)
            for b in word {
                let id = tokenizer.byteTokens[Int(b)]
                if id >= 0 { ids.append(id) } else if let unk = tokenizer.spec.unknownID { ids.append(unk) }
            }
            tokenizer.rankMerger!.merge(&ids)
        }
        cache[key] = ids
        output += ids
    }

    /// SentencePiece-style BPE by merge rank: characters (unknown ones as their `<0xXX>`
    /// byte tokens, as HuggingFace's `byte_fallback` does) → merges.
    private func mergeCharacters(_ text: [UInt8]) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.count)
        text.withUnsafeBufferPointer { buffer in
            var i = 0
            while i < buffer.count {
                let b = buffer[i]
                let n = min(b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1, buffer.count - i)
                let char = UnsafeBufferPointer(rebasing: buffer[i ..< i + n])
                if let id = tokenizer.table.lookup(char) {
                    ids.append(id)
                } else if char.allSatisfy({ tokenizer.byteTokens[Int($0)] >= 0 }) {
                    for c in char { ids.append(tokenizer.byteTokens[Int(c)]) }
                } else if let unk = tokenizer.spec.unknownID {
                    ids.append(unk)
                }
                i += n
            }
        }
        tokenizer.rankMerger!.merge(&ids)
        return ids
    }

    /// Spaces → "▁", with an optional leading "▁".
    private func escape(_ text: UnsafeBufferPointer<UInt8>, prefix: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count + 8)
        if prefix { out += TokenizerTables.metaspace }
        for b in text {
            if b == 0x20 { out += TokenizerTables.metaspace } else { out.append(b) }
        }
        return out
    }
}
