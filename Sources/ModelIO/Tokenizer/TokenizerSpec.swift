/// Everything a `Tokenizer` is built from, independent of where it was read (GGUF metadata or
/// a HuggingFace `tokenizer.json`). Token texts are kept in the source's own spelling:
/// byte-level vocabularies in GPT-2's printable-unicode form ("Ġworld"), SentencePiece ones
/// with "▁" for spaces; the tokenizer turns them into raw bytes once, when it is built.
public struct TokenizerSpec: Sendable {
    public enum Model: String, Sendable, Equatable {
        /// GPT-2 style: bytes mapped to printable unicode, pre-tokenized by a split pattern,
        /// merged by merge rank (GGUF `tokenizer.ggml.model = "gpt2"`).
        case byteLevelBPE
        /// SentencePiece BPE with byte fallback; merges chosen by the merged token's score,
        /// as llama.cpp does for GGUF `tokenizer.ggml.model = "llama"` (Gemma, Llama-2).
        case sentencePieceScores
        /// SentencePiece-style BPE (spaces as "▁", byte fallback) merged by merge rank, as
        /// HuggingFace's BPE model runs a Llama-2 or Gemma `tokenizer.json`.
        case sentencePieceMerges
    }

    /// GGUF's token types (SentencePiece's piece types); HuggingFace added tokens map to
    /// `.control` (special) or `.userDefined` (not special).
    public enum TokenType: Int, Sendable, Equatable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public var model: Model
    /// How byte-level text is split into pre-tokens before merging (ignored by SentencePiece).
    public var preTokenizer: PreTokenizerKind
    /// Unicode NFC normalization of the text before anything else (Qwen2).
    public var normalizesNFC: Bool
    public var tokens: [String]
    /// Merge rules as pairs of token texts, highest priority first.
    public var merges: [(String, String)]
    /// One score per token (SentencePiece); empty when merges decide.
    public var scores: [Float]
    /// One type per token; empty means all normal.
    public var tokenTypes: [TokenType]
    public var bosID: Int32?
    public var eosID: Int32?
    public var unknownID: Int32?
    public var addsBOS: Bool
    public var addsEOS: Bool
    /// SentencePiece's dummy prefix: a space before the text (Llama-2 yes, Gemma 3 no).
    public var addsSpacePrefix: Bool
    /// Whether the dummy prefix also goes after every special token found in the text
    /// (llama.cpp, HuggingFace `Prepend`, Metaspace "always") or only at the very start
    /// (Metaspace "first").
    public var spacePrefixAfterSpecialTokens: Bool
    /// A pre-token that is itself a vocabulary entry is taken whole, without merging
    /// (Llama-3's `ignore_merges`).
    public var ignoresMerges: Bool

    public init(model: Model, preTokenizer: PreTokenizerKind = .none, normalizesNFC: Bool = false,
                tokens: [String], merges: [(String, String)] = [], scores: [Float] = [],
                tokenTypes: [TokenType] = [], bosID: Int32? = nil, eosID: Int32? = nil,
                unknownID: Int32? = nil, addsBOS: Bool = false, addsEOS: Bool = false,
                addsSpacePrefix: Bool = false, spacePrefixAfterSpecialTokens: Bool = true,
                ignoresMerges: Bool = false) {
        self.model = model
        self.preTokenizer = preTokenizer
        self.normalizesNFC = normalizesNFC
        self.tokens = tokens
        self.merges = merges
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.bosID = bosID
        self.eosID = eosID
        self.unknownID = unknownID
        self.addsBOS = addsBOS
        self.addsEOS = addsEOS
        self.addsSpacePrefix = addsSpacePrefix
        self.spacePrefixAfterSpecialTokens = spacePrefixAfterSpecialTokens
        self.ignoresMerges = ignoresMerges
    }
}

extension TokenizerSpec {
    /// "Ġ t" → ("Ġ", "t"). Token texts in merges never contain a space, so the first space
    /// separates the two parts. Split on scalars: as `Character`s, a space followed by a
    /// combining mark would be one unit.
    static func splitMerge(_ line: String) -> (String, String)? {
        let scalars = line.unicodeScalars
        guard let space = scalars.firstIndex(of: " ") else { return nil }
        let a = String(scalars[..<space]), b = String(scalars[scalars.index(after: space)...])
        return a.isEmpty || b.isEmpty ? nil : (a, b)
    }
}

/// The pre-token split patterns we implement (llama.cpp's `tokenizer.ggml.pre` names).
public enum PreTokenizerKind: String, Sendable, Equatable {
    /// No split: the whole text is one pre-token (SentencePiece models).
    case none
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// Every digit (`\p{N}`) its own pre-token, then the GPT-2 pattern (SmolLM).
    case smollm
    /// Llama-3: case-insensitive contractions, `[^\r\n\p{L}\p{N}]?\p{L}+`, `\p{N}{1,3}`,
    /// ` ?[^\s\p{L}\p{N}]+[\r\n]*`, `\s*[\r\n]+`, `\s+(?!\S)`, `\s+`.
    case llama3 = "llama-bpe"
    /// Qwen2: the Llama-3 pattern with single digits.
    case qwen2
}
