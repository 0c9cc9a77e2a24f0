import Foundation
import ModelIO

/// A text for perplexity or calibration, as the exact bytes the tokenizer will see.
public struct TextCorpus: Sendable {
    public let name: String
    public let source: ResolvedAsset
    /// UTF-8 bytes, kept as bytes: WikiText-2 has CRLF line ends that Swift's `Character`
    /// would merge, so text is never handled as `String` characters before tokenization.
    public let bytes: [UInt8]

    /// Loads `wikitext2`, `wiki`, `c4`, another registry text, or a file path.
    /// `wiki` drops the WikiExtractor markup lines, as `ASSETS.md` defines the calibration text.
    public static func load(_ nameOrPath: String) throws -> TextCorpus {
        let source = try AssetRegistry.resolve(nameOrPath, kind: .text)
        let raw: Data
        do { raw = try RegularFile.read(source.path) } catch let error as ModelFileError {
            throw CorpusError(path: source.path, message: error.message)
        }
        guard String(data: raw, encoding: .utf8) != nil else {
            throw CorpusError(path: source.path, message: "the file is not valid UTF-8")
        }
        let bytes = source.asset?.id == "wiki" ? stripDocumentMarkup(Array(raw)) : Array(raw)
        guard !bytes.isEmpty else { throw CorpusError(path: source.path, message: "the text is empty") }
        return TextCorpus(name: source.asset?.id ?? groupName(forPath: source.path), source: source, bytes: bytes)
    }

    /// A text given by path is named by its file name, with anything but letters, digits,
    /// `.`, `_` and `-` replaced by `_`: the name becomes one HDF5 group (`/perplexity/<name>`),
    /// and a slash would nest groups that readers do not expect. The full path is recorded
    /// beside it as provenance.
    static func groupName(forPath path: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        let name = String(URL(fileURLWithPath: path).lastPathComponent.map { allowed.contains($0) ? $0 : "_" })
        return name.allSatisfy { $0 == "." } ? "text" : name
    }

    /// Removes every line that starts with `<doc ` and every line that is exactly `</doc>`
    /// (with its line end), keeping all other bytes as they are.
    public static func stripDocumentMarkup(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        let open = Array("<doc ".utf8), close = Array("</doc>".utf8)
        var start = 0
        while start < text.count {
            let end = text[start...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? text.count
            let line = text[start..<end]
            var content = line.last == UInt8(ascii: "\n") ? line.dropLast() : line[...]
            if content.last == UInt8(ascii: "\r") { content = content.dropLast() }
            let isMarkup = line.starts(with: open) || content.elementsEqual(close)
            if !isMarkup { out.append(contentsOf: line) }
            start = end
        }
        return out
    }
}

public struct CorpusError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
