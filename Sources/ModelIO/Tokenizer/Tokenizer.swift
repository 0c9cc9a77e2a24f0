import Foundation

/// Text ↔ token ids for the byte-level BPE and SentencePiece tokenizers of our models,
/// matching HuggingFace `tokenizers` id for id. Text is handled as UTF-8 bytes and Unicode
/// scalars, never `Character`s (a grapheme would merge "\r\n" into one unit).
public struct Tokenizer: Sendable {
    public let spec: TokenizerSpec
    public var vocabularySize: Int { spec.tokens.count }
    public var bos: Int32? { spec.bosID }
    public var eos: Int32? { spec.eosID }
    /// Whether `encode(_:addSpecialTokens: true)` puts BOS first (the tokenizer's default).
    public var addsBOS: Bool { spec.addsBOS && spec.bosID != nil }
    public var addsEOS: Bool { spec.addsEOS && spec.eosID != nil }

    /// Raw bytes each id decodes to.
    let tokenBytes: [[UInt8]]
    /// Token bytes → id, in the spelling the merge loop looks up.
    let table: ByteSequenceTable
    let specials: SpecialTokenMatcher
    let preTokenizer: PreTokenizer
    /// Byte-level: the single-byte token of each byte. SentencePiece: the `<0xXX>` token.
    let byteTokens: [Int32]
    let rankMerger: RankMerger?
    let scoreMerger: ScoreMerger?

    public init(spec: TokenizerSpec, source: String) throws {
        let parts = try TokenizerTables(spec: spec, source: source)
        self.spec = spec
        tokenBytes = parts.tokenBytes
        table = parts.table
        specials = parts.specials
        byteTokens = parts.byteTokens
        preTokenizer = PreTokenizer(kind: spec.model == .byteLevelBPE ? spec.preTokenizer : .none)
        switch spec.model {
        case .byteLevelBPE, .sentencePieceMerges:
            rankMerger = try RankMerger(spec: spec, table: parts.table, source: source)
            scoreMerger = nil
        case .sentencePieceScores:
            rankMerger = nil
            scoreMerger = ScoreMerger(table: parts.table, scores: spec.scores, byteTokens: parts.byteTokens,
                                      unknownID: spec.unknownID)
        }
    }

    /// The token's text as the vocabulary spells it.
    public func token(for id: Int32) -> String? {
        spec.tokens.indices.contains(Int(id)) ? spec.tokens[Int(id)] : nil
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        encode(Array(text.utf8), addSpecialTokens: addSpecialTokens)
    }

    /// Encodes UTF-8 bytes; with `addSpecialTokens`, BOS/EOS are added where the tokenizer
    /// adds them by default. Special tokens written in the text are recognized (as
    /// HuggingFace does by default).
    public func encode(_ text: [UInt8], addSpecialTokens: Bool) -> [Int32] {
        var output: [Int32] = []
        output.reserveCapacity(text.count / 3)
        if addSpecialTokens && addsBOS, let bos = spec.bosID { output.append(bos) }
        let normalized = spec.normalizesNFC ? Self.nfc(text) : text
        var session = EncodeSession(tokenizer: self)
        normalized.withUnsafeBufferPointer { buffer in
            // Where a SentencePiece dummy prefix may go: the start, and after special tokens.
            var prefixAllowed = true
            specials.split(buffer, plain: { range in
                session.encodePlain(UnsafeBufferPointer(rebasing: buffer[range]),
                                    atStart: prefixAllowed, into: &output)
                prefixAllowed = false
            }, special: { id in
                output.append(id)
                prefixAllowed = spec.spacePrefixAfterSpecialTokens
            })
        }
        if addSpecialTokens && addsEOS, let eos = spec.eosID { output.append(eos) }
        return output
    }

    /// The bytes the ids stand for (special tokens as their text; ids outside the
    /// vocabulary are skipped). A SentencePiece dummy prefix space is removed again.
    public func decode(_ ids: [Int32]) -> [UInt8] {
        var out: [UInt8] = []
        for id in ids where tokenBytes.indices.contains(Int(id)) { out += tokenBytes[Int(id)] }
        if spec.model != .byteLevelBPE && spec.addsSpacePrefix && out.first == 0x20 { out.removeFirst() }
        return out
    }

    /// Decoded text; bytes that are not valid UTF-8 become U+FFFD.
    public func decodeString(_ ids: [Int32]) -> String {
        String(decoding: decode(ids), as: UTF8.self)
    }

    /// NFC (Qwen2), skipped for pure ASCII, which NFC never changes.
    static func nfc(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(where: { $0 >= 0x80 }) else { return bytes }
        let string = String(decoding: bytes, as: UTF8.self)
        return Array(string.precomposedStringWithCanonicalMapping.utf8)
    }
}
