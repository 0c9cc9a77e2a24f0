/// The split patterns of byte-level BPE tokenizers, written out by hand over scalar classes
/// (Swift Regex is far too slow for whole corpora). Each `match…` function returns where the
/// pattern's leftmost alternative that matches at `i` ends, exactly as the regex would.
struct PreTokenizer {
    let kind: PreTokenizerKind

    /// Calls `emit` with the byte range of every pre-token of `text`, in order.
    func split(_ text: ScalarText, _ emit: (Range<Int>) -> Void) {
        let n = text.count
        var i = 0
        while i < n {
            let end: Int
            switch kind {
            case .none: end = n
            case .gpt2: end = matchGPT2(text, i, limit: n)
            case .smollm:
                // Digits are pre-tokens of their own; the GPT-2 pattern runs on the stretches
                // between them, so it must not see past the next digit.
                if text.classes[i] == .number {
                    end = i + 1
                } else {
                    var limit = i
                    while limit < n && text.classes[limit] != .number { limit += 1 }
                    var j = i
                    while j < limit {
                        let e = matchGPT2(text, j, limit: limit)
                        emit(text.offsets[j]..<text.offsets[e])
                        j = e
                    }
                    i = limit
                    continue
                }
            case .llama3: end = matchLlama3(text, i, maxDigits: 3)
            case .qwen2: end = matchLlama3(text, i, maxDigits: 1)
            }
            emit(text.offsets[i]..<text.offsets[end])
            i = end
        }
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d`, optionally ignoring case; returns the end or nil.
    private func matchContraction(_ t: ScalarText, _ i: Int, limit: Int, ignoreCase: Bool) -> Int? {
        guard t.scalars[i] == 0x27, i + 1 < limit else { return nil }
        func lower(_ k: Int) -> UInt32 {
            let s = t.scalars[k]
            return ignoreCase && s >= 0x41 && s <= 0x5A ? s + 0x20 : s
        }
        let c1 = lower(i + 1)
        if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { return i + 2 }  // s t m d
        guard i + 2 < limit else { return nil }
        let c2 = lower(i + 2)
        if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) {
            return i + 3  // re ve ll
        }
        return nil
    }

    /// `\s+(?!\S)|\s+` at a whitespace scalar: a run of whitespace, leaving its last scalar
    /// to the next pre-token when something other than whitespace follows.
    private func matchWhitespace(_ t: ScalarText, _ i: Int, limit: Int) -> Int {
        var k = i
        while k < limit && (t.classes[k] == .whitespace || t.classes[k] == .newline) { k += 1 }
        return (k < limit && k - i >= 2) ? k - 1 : k
    }

    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    private func matchGPT2(_ t: ScalarText, _ i: Int, limit: Int) -> Int {
        if let end = matchContraction(t, i, limit: limit, ignoreCase: false) { return end }
        // ` ?X+` for the three classes: an optional single space, then a run of one class.
        var start = i
        if t.scalars[i] == 0x20 && i + 1 < limit {
            let next = t.classes[i + 1]
            if next == .letter || next == .number || next == .other { start = i + 1 }
        }
        let cls = t.classes[start]
        if cls == .letter || cls == .number || cls == .other {
            var k = start + 1
            while k < limit && t.classes[k] == cls { k += 1 }
            return k
        }
        return matchWhitespace(t, i, limit: limit)
    }

    /// Llama-3 / Qwen2: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    private func matchLlama3(_ t: ScalarText, _ i: Int, maxDigits: Int) -> Int {
        let n = t.count
        if let end = matchContraction(t, i, limit: n, ignoreCase: true) { return end }
        let cls = t.classes[i]
        // [^\r\n\p{L}\p{N}]?\p{L}+
        var letters = -1
        if cls == .letter {
            letters = i
        } else if (cls == .whitespace || cls == .other) && i + 1 < n && t.classes[i + 1] == .letter {
            letters = i + 1
        }
        if letters >= 0 {
            var k = letters + 1
            while k < n && t.classes[k] == .letter { k += 1 }
            return k
        }
        // \p{N}{1,max}
        if cls == .number {
            var k = i + 1
            while k < n && k - i < maxDigits && t.classes[k] == .number { k += 1 }
            return k
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        var start = i
        if t.scalars[i] == 0x20 && i + 1 < n && t.classes[i + 1] == .other { start = i + 1 }
        if t.classes[start] == .other {
            var k = start + 1
            while k < n && t.classes[k] == .other { k += 1 }
            while k < n && t.classes[k] == .newline { k += 1 }
            return k
        }
        // `\s*[\r\n]+`: the greedy `\s*` gives back scalars until the match ends just after
        // the last \r or \n of the whitespace run.
        var k = i
        var lastNewline = -1
        while k < n && (t.classes[k] == .whitespace || t.classes[k] == .newline) {
            if t.classes[k] == .newline { lastNewline = k }
            k += 1
        }
        if lastNewline >= 0 { return lastNewline + 1 }
        return matchWhitespace(t, i, limit: n)
    }
}
