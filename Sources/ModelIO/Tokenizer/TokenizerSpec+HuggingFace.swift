import Foundation

/// Reads a HuggingFace `tokenizer.json` with a BPE model, in the configurations of the
/// tokenizer families we support: byte-level (GPT-2, SmolLM, Llama-3, Qwen2) and
/// SentencePiece-style with byte fallback (Llama-2, Gemma). Anything else is an error
/// naming the file and the part we do not support, rather than silently different ids.
extension TokenizerSpec {
    public init(huggingFaceJSON url: URL) throws {
        let source = url.path
        func fail(_ message: String) -> TokenizerError { TokenizerError(source: source, message: message) }
        let data: Data
        do { data = try RegularFile.read(url.path) } catch let error as ModelFileError { throw fail(error.message) }
        let root: JSONValue
        do {
            root = try JSONValue.parse([UInt8](data))
        } catch {
            throw fail("\(error)")
        }

        // The model: vocabulary, merges and the BPE options.
        guard let model = root["model"], model.entries != nil else { throw fail("no \"model\" object") }
        let modelType = model["type"]?.string ?? "BPE"
        guard modelType == "BPE" else { throw fail("unsupported model.type \"\(ModelFileError.printable(modelType))\" (supported: BPE)") }
        for option in ["dropout", "continuing_subword_prefix", "end_of_word_suffix"] {
            if let value = model[option], !value.isNull, value.string != "" {
                throw fail("unsupported model.\(option) (only BPE without it)")
            }
        }
        guard let vocab = model["vocab"]?.entries else { throw fail("model.vocab is missing or not an object") }
        let addedTokens = root["added_tokens"]?.array ?? []
        // Ids run from 0 without gaps, so none can reach the number of entries; a larger id
        // is refused before a vocabulary of that size is allocated.
        let idLimit = vocab.count + addedTokens.count
        var tokenByID: [Int: String] = [:]
        for (text, value) in vocab {
            guard let id = value.int, (0..<idLimit).contains(id) else {
                throw fail("model.vocab[\"\(ModelFileError.printable(text))\"] is not an id below \(idLimit)")
            }
            tokenByID[id] = text
        }
        var specialIDs: [Int: Bool] = [:]
        for added in addedTokens {
            guard let id = added["id"]?.int, let content = added["content"]?.string else {
                throw fail("an added_tokens entry without id or content")
            }
            guard (0..<idLimit).contains(id) else { throw fail("added token id \(id) is not an id below \(idLimit)") }
            tokenByID[id] = content
            specialIDs[id] = added["special"]?.bool ?? false
        }
        let count = (tokenByID.keys.max() ?? -1) + 1
        var tokens: [String] = []
        tokens.reserveCapacity(count)
        for id in 0..<count {
            guard let text = tokenByID[id] else { throw fail("the vocabulary has no token with id \(id)") }
            tokens.append(text)
        }
        let types: [TokenType] = (0..<count).map { id in
            specialIDs[id].map { $0 ? .control : .userDefined } ?? .normal
        }
        func idOf(_ name: String) -> Int32? {
            let scalars = Array(name.unicodeScalars)
            return tokens.firstIndex { $0.unicodeScalars.elementsEqual(scalars) }.map { Int32($0) }
        }
        var merges: [(String, String)] = []
        for entry in model["merges"]?.array ?? [] {
            if let line = entry.string, let pair = Self.splitMerge(line) {
                merges.append(pair)
            } else if let pair = entry.array?.compactMap(\.string), pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else {
                throw fail("model.merges has an entry that is neither \"a b\" nor [a, b]")
            }
        }
        let byteFallback = model["byte_fallback"]?.bool ?? false
        let ignoresMerges = model["ignore_merges"]?.bool ?? false
        let unknownID = model["unk_token"]?.string.flatMap(idOf)

        let normalizer = try HuggingFaceConfig.normalizer(root["normalizer"], fail: fail)
        let pre = try HuggingFaceConfig.preTokenizer(root["pre_tokenizer"], fail: fail)
        let template = try HuggingFaceConfig.template(root["post_processor"], idOf: idOf, fail: fail)

        if pre.byteLevel {
            guard !byteFallback else { throw fail("unsupported: a ByteLevel pre-tokenizer with model.byte_fallback") }
            guard !normalizer.escapesSpaces && !normalizer.prependsSpace else {
                throw fail("unsupported: a ByteLevel pre-tokenizer after a normalizer that replaces spaces")
            }
            self.init(model: .byteLevelBPE, preTokenizer: pre.kind, normalizesNFC: normalizer.nfc, tokens: tokens,
                      merges: merges, tokenTypes: types, bosID: template.bos, eosID: template.eos, unknownID: unknownID,
                      addsBOS: template.bos != nil, addsEOS: template.eos != nil, ignoresMerges: ignoresMerges)
        } else {
            guard normalizer.escapesSpaces || pre.metaspace != nil else {
                throw fail("unsupported: a BPE model that is neither byte-level (ByteLevel pre-tokenizer) nor "
                    + "SentencePiece-style (spaces replaced by \"\u{2581}\")")
            }
            let prefix = normalizer.prependsSpace || (pre.metaspace.map { $0 != "never" } ?? false)
            self.init(model: .sentencePieceMerges, normalizesNFC: normalizer.nfc, tokens: tokens, merges: merges,
                      tokenTypes: types, bosID: template.bos, eosID: template.eos, unknownID: unknownID,
                      addsBOS: template.bos != nil, addsEOS: template.eos != nil, addsSpacePrefix: prefix,
                      spacePrefixAfterSpecialTokens: pre.metaspace != "first", ignoresMerges: ignoresMerges)
        }
    }
}

extension Tokenizer {
    /// The tokenizer of a HuggingFace `tokenizer.json` file.
    public init(huggingFaceJSON url: URL) throws {
        try self.init(spec: TokenizerSpec(huggingFaceJSON: url), source: url.path)
    }
}
