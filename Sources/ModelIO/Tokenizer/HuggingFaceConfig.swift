/// Reads the normalizer, pre-tokenizer and post-processor objects of a `tokenizer.json`
/// into what `TokenizerSpec` needs, recognizing only the configurations whose behaviour we
/// reproduce exactly.
enum HuggingFaceConfig {
    typealias Fail = (String) -> TokenizerError

    struct Normalizer {
        var nfc = false
        /// Replace " " → "▁".
        var escapesSpaces = false
        /// Prepend "▁".
        var prependsSpace = false
    }

    struct PreTokenizer {
        var byteLevel = false
        var kind: PreTokenizerKind = .none
        /// Metaspace's prepend scheme ("always", "first", "never") when there is one.
        var metaspace: String?
    }

    static let metaspace = "\u{2581}"

    /// The split regexes of the supported byte-level families, as tokenizer.json spells them.
    /// (A list, not a dictionary: `String` keys compare by canonical equivalence.)
    static let splitPatterns: [(pattern: String, kind: PreTokenizerKind)] = [
        ("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", .gpt2),
        ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", .llama3),
        ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", .qwen2),
    ]

    static func normalizer(_ object: JSONValue?, fail: Fail) throws -> Normalizer {
        var result = Normalizer()
        func visit(_ n: JSONValue?) throws {
            guard let n, !n.isNull else { return }
            guard n.entries != nil else { throw fail("normalizer is not an object") }
            switch n["type"]?.string {
            case "Sequence":
                for item in n["normalizers"]?.array ?? [] { try visit(item) }
            case "NFC":
                result.nfc = true
            case "Replace":
                guard n["pattern"]?["String"]?.string == " ", n["content"]?.string == metaspace else {
                    throw fail("unsupported normalizer Replace (only \" \" → \"\(metaspace)\")")
                }
                result.escapesSpaces = true
            case "Prepend":
                guard n["prepend"]?.string == metaspace else {
                    throw fail("unsupported normalizer Prepend (only \"\(metaspace)\")")
                }
                result.prependsSpace = true
            case let other:
                throw fail("unsupported normalizer \(other.map { ModelFileError.printable($0) } ?? "without a type")")
            }
        }
        try visit(object)
        return result
    }

    static func preTokenizer(_ object: JSONValue?, fail: Fail) throws -> PreTokenizer {
        var result = PreTokenizer()
        var digits = false
        func visit(_ p: JSONValue?) throws {
            guard let p, !p.isNull else { return }
            guard p.entries != nil else { throw fail("pre_tokenizer is not an object") }
            switch p["type"]?.string {
            case "Sequence":
                for item in p["pretokenizers"]?.array ?? [] { try visit(item) }
            case "ByteLevel":
                guard p["add_prefix_space"]?.bool != true else {
                    throw fail("unsupported pre_tokenizer ByteLevel with add_prefix_space")
                }
                result.byteLevel = true
                if p["use_regex"]?.bool ?? true {
                    guard result.kind == .none else { throw fail("unsupported pre_tokenizer: two split patterns") }
                    result.kind = .gpt2
                }
            case "Split":
                let pattern = p["pattern"]
                if pattern?["String"]?.string == " " && p["behavior"]?.string == "MergedWithPrevious" {
                    // HuggingFace's GGUF import writes this for SentencePiece models; after
                    // spaces became "▁" it never splits anything.
                    return
                }
                let regex = pattern?["Regex"]?.string
                guard let kind = splitPatterns.first(where: { $0.pattern == regex })?.kind,
                      p["behavior"]?.string == "Isolated", p["invert"]?.bool != true else {
                    throw fail("unsupported pre_tokenizer Split (regex \(regex.map { ModelFileError.printable($0) } ?? "none"), "
                        + "behavior \(p["behavior"]?.string.map { ModelFileError.printable($0) } ?? "none"))")
                }
                guard result.kind == .none else { throw fail("unsupported pre_tokenizer: two split patterns") }
                result.kind = kind
            case "Digits":
                guard p["individual_digits"]?.bool == true, result.kind == .none else {
                    throw fail("unsupported pre_tokenizer Digits (only individual_digits before the byte-level split)")
                }
                digits = true
            case "Metaspace":
                guard p["replacement"]?.string ?? metaspace == metaspace, p["split"]?.bool != true else {
                    throw fail("unsupported pre_tokenizer Metaspace (only replacement \"\(metaspace)\" without split)")
                }
                result.metaspace = p["prepend_scheme"]?.string
                    ?? ((p["add_prefix_space"]?.bool ?? true) ? "always" : "never")
            case let other:
                throw fail("unsupported pre_tokenizer \(other.map { ModelFileError.printable($0) } ?? "without a type")")
            }
        }
        try visit(object)
        if digits {
            guard result.kind == .gpt2 else {
                throw fail("unsupported pre_tokenizer: Digits without the GPT-2 byte-level split after it")
            }
            result.kind = .smollm
        }
        return result
    }

    /// BOS/EOS that the post-processor's single-sequence template puts around the text.
    static func template(_ object: JSONValue?, idOf: (String) -> Int32?, fail: Fail) throws -> (bos: Int32?, eos: Int32?) {
        guard let p = object, !p.isNull else { return (nil, nil) }
        switch p["type"]?.string {
        case "ByteLevel":
            return (nil, nil)
        case "TemplateProcessing":
            var bos: Int32?, eos: Int32?
            var seenSequence = false
            for item in p["single"]?.array ?? [] {
                if item["Sequence"] != nil { seenSequence = true; continue }
                guard let name = item["SpecialToken"]?["id"]?.string, let id = idOf(name) else {
                    throw fail("unsupported post_processor template item (only the sequence and special tokens)")
                }
                // One token on each side is all `TokenizerSpec` can add; a second would be lost.
                guard (seenSequence ? eos : bos) == nil else {
                    throw fail("unsupported post_processor template (more than one special token before or after the sequence)")
                }
                if seenSequence { eos = id } else { bos = id }
            }
            return (bos, eos)
        case let other:
            throw fail("unsupported post_processor \(other.map { ModelFileError.printable($0) } ?? "without a type")")
        }
    }
}
