/// Reads the tokenizer that llama.cpp's converter stores in a GGUF file's metadata
/// (`tokenizer.ggml.*`).
extension TokenizerSpec {
    public init(gguf file: GGUFFile) throws {
        let source = file.path
        let meta = file.metadata
        func string(_ key: String) -> String? { meta["tokenizer.ggml." + key]?.stringValue }
        /// An id that is present must be a token id (whether it is inside the vocabulary is
        /// checked when the tokenizer is built); a wrong one is an error, not a missing id.
        func id(_ key: String) throws -> Int32? {
            guard let value = meta["tokenizer.ggml." + key] else { return nil }
            guard let id = value.intValue.flatMap(Int32.init(exactly:)), id >= 0 else {
                throw TokenizerError(source: source, message: "tokenizer.ggml.\(key) = "
                    + "\(ModelFileError.printable("\(value)")) is not a token id")
            }
            return id
        }
        /// A flag that is present must be a boolean: one of another type is not "absent".
        func flag(_ key: String) throws -> Bool? {
            guard let value = meta["tokenizer.ggml." + key] else { return nil }
            guard let flag = value.boolValue else {
                throw TokenizerError(source: source, message: "tokenizer.ggml.\(key) is not a boolean")
            }
            return flag
        }
        // A renamed or unknown key would leave a default in place (a missing `pre` means
        // the default pre-tokenizer) and tokenize differently without a word.
        for key in meta.keys.sorted() where key.hasPrefix("tokenizer.ggml.") {
            guard Self.knownGGUFKeys.contains(String(key.dropFirst("tokenizer.ggml.".count))) else {
                throw TokenizerError(source: source, message: "unknown metadata key '\(ModelFileError.printable(key))'")
            }
        }

        guard let modelName = string("model") else {
            throw TokenizerError(source: source, message: "no tokenizer.ggml.model in the metadata")
        }
        guard let tokens = meta["tokenizer.ggml.tokens"]?.stringArray else {
            throw TokenizerError(source: source, message: "no tokenizer.ggml.tokens string array in the metadata")
        }
        var types: [TokenType] = []
        if let raw = meta["tokenizer.ggml.token_type"]?.intArray {
            types = try raw.map {
                guard let type = TokenType(rawValue: $0) else {
                    throw TokenizerError(source: source, message: "tokenizer.ggml.token_type holds the unknown type \($0)")
                }
                return type
            }
        }
        let pre = string("pre") ?? "default"
        switch modelName {
        case "gpt2":
            guard let kind = PreTokenizerKind(rawValue: pre), kind != .none else {
                throw TokenizerError(source: source, message: "unsupported pre-tokenizer tokenizer.ggml.pre = \"\(ModelFileError.printable(pre))\" "
                    + "(supported: smollm, gpt2, llama-bpe, qwen2)")
            }
            guard let rawMerges = meta["tokenizer.ggml.merges"]?.stringArray else {
                throw TokenizerError(source: source, message: "a gpt2 tokenizer without tokenizer.ggml.merges")
            }
            let merges = try rawMerges.map { line -> (String, String) in
                guard let pair = Self.splitMerge(line) else {
                    throw TokenizerError(source: source, message: "malformed merge \"\(ModelFileError.printable(line))\"")
                }
                return pair
            }
            self.init(model: .byteLevelBPE, preTokenizer: kind,
                      // Qwen2's tokenizer normalizes to NFC, which the GGUF does not record.
                      normalizesNFC: kind == .qwen2,
                      tokens: tokens, merges: merges, tokenTypes: types,
                      bosID: try id("bos_token_id"), eosID: try id("eos_token_id"), unknownID: try id("unknown_token_id"),
                      addsBOS: try flag("add_bos_token") ?? false, addsEOS: try flag("add_eos_token") ?? false,
                      // llama.cpp sets ignore_merges for the Llama-3 pre-tokenizer only.
                      ignoresMerges: kind == .llama3)
        case "llama":
            guard let scores = meta["tokenizer.ggml.scores"]?.floatArray else {
                throw TokenizerError(source: source, message: "a llama (SentencePiece) tokenizer without tokenizer.ggml.scores")
            }
            self.init(model: .sentencePieceScores, tokens: tokens, scores: scores, tokenTypes: types,
                      bosID: try id("bos_token_id"), eosID: try id("eos_token_id"), unknownID: try id("unknown_token_id"),
                      // llama.cpp's defaults for SentencePiece vocabularies.
                      addsBOS: try flag("add_bos_token") ?? true, addsEOS: try flag("add_eos_token") ?? false,
                      addsSpacePrefix: try flag("add_space_prefix") ?? true)
        default:
            throw TokenizerError(source: source, message: "unsupported tokenizer model tokenizer.ggml.model = \"\(ModelFileError.printable(modelName))\" "
                + "(supported: gpt2, llama)")
        }
    }

    /// The `tokenizer.ggml.*` keys llama.cpp's converter writes; those this reader does not
    /// use (other special ids, flags of other tokenizer kinds) change nothing it computes.
    static let knownGGUFKeys: Set<String> = [
        "model", "pre", "tokens", "token_type", "token_type_count", "scores", "merges",
        "bos_token_id", "eos_token_id", "unknown_token_id", "seperator_token_id", "padding_token_id", "cls_token_id",
        "mask_token_id", "prefix_token_id", "suffix_token_id", "middle_token_id", "eot_token_id", "eom_token_id",
        "fim_pre_token_id", "fim_suf_token_id", "fim_mid_token_id", "fim_pad_token_id", "fim_rep_token_id", "fim_sep_token_id",
        "add_bos_token", "add_eos_token", "add_sep_token", "add_space_prefix", "remove_extra_whitespaces", "precompiled_charsmap",
    ]
}

extension Tokenizer {
    /// The tokenizer stored in a GGUF file.
    public init(gguf file: GGUFFile) throws {
        try self.init(spec: TokenizerSpec(gguf: file), source: file.path)
    }
}