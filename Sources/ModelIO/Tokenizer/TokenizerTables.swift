/// The lookup tables a `Tokenizer` is built from its spec: what bytes each id decodes to,
/// how token texts are looked up while merging, which tokens are matched in raw text, and
/// the token that stands for each single byte.
struct TokenizerTables {
    var tokenBytes: [[UInt8]] = []
    var table: ByteSequenceTable
    var specials = SpecialTokenMatcher()
    var byteTokens = [Int32](repeating: -1, count: 256)

    static let metaspace: [UInt8] = Array("\u{2581}".utf8)

    init(spec: TokenizerSpec, source: String) throws {
        guard !spec.tokens.isEmpty else { throw TokenizerError(source: source, message: "the vocabulary is empty") }
        if !spec.tokenTypes.isEmpty && spec.tokenTypes.count != spec.tokens.count {
            throw TokenizerError(source: source, message: "\(spec.tokenTypes.count) token types for \(spec.tokens.count) tokens")
        }
        if spec.model == .sentencePieceScores && spec.scores.count != spec.tokens.count {
            throw TokenizerError(source: source, message: "\(spec.scores.count) token scores for \(spec.tokens.count) tokens")
        }
        for (name, id) in [("BOS", spec.bosID), ("EOS", spec.eosID), ("unknown", spec.unknownID)] {
            if let id, !spec.tokens.indices.contains(Int(id)) {
                throw TokenizerError(source: source, message: "\(name) token id \(id) is outside the vocabulary of \(spec.tokens.count)")
            }
        }
        table = ByteSequenceTable(capacity: spec.tokens.count)
        tokenBytes.reserveCapacity(spec.tokens.count)
        for (index, text) in spec.tokens.enumerated() {
            let id = Int32(index)
            let type = spec.tokenTypes.isEmpty ? .normal : spec.tokenTypes[index]
            let isSpecial = type == .control || type == .userDefined || type == .unknown
            let bytes: [UInt8]
            switch spec.model {
            case .byteLevelBPE:
                // Added tokens are spelled literally; the others in the byte alphabet.
                bytes = isSpecial ? Array(text.utf8) : (ByteLevelAlphabet.bytes(ofToken: text) ?? Array(text.utf8))
                table.insert(bytes, id)
                if bytes.count == 1 && !isSpecial && byteTokens[Int(bytes[0])] < 0 { byteTokens[Int(bytes[0])] = id }
            case .sentencePieceScores, .sentencePieceMerges:
                if let byte = Self.byteToken(text), type == .byte || type == .normal {
                    bytes = [byte]
                    if byteTokens[Int(byte)] < 0 { byteTokens[Int(byte)] = id }
                } else {
                    bytes = Self.unescapeSpaces(Array(text.utf8))
                }
                table.insert(Array(text.utf8), id)
            }
            tokenBytes.append(bytes)
            if isSpecial { specials.add(bytes, id: id) }
        }
    }

    /// "<0x0A>" → 0x0A.
    static func byteToken(_ text: String) -> UInt8? {
        let u = Array(text.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3...4], as: UTF8.self), radix: 16)
    }

    /// SentencePiece's "▁" back to a space.
    static func unescapeSpaces(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if i + 2 < bytes.count && bytes[i] == 0xE2 && bytes[i + 1] == 0x96 && bytes[i + 2] == 0x81 {
                out.append(0x20)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }
}
