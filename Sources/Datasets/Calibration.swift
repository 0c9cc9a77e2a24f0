import Foundation
import H5Store
import LinAlg
import ModelIO

/// How calibration windows are drawn from the tokenized text.
public enum CalibrationSampling: String, Sendable, Codable, CaseIterable {
    /// `samples` windows at uniformly random token offsets (seeded), as GPTQ, Wanda and
    /// IntraSlice draw them.
    case random
    /// The first `samples` non-overlapping windows from the start of the text, for exact
    /// comparisons with other implementations fed the same windows.
    case sequential
}

/// What a data-driven method calibrates on; recorded with every pruned model.
public struct CalibrationSettings: Sendable, Codable, Equatable {
    /// `wiki` (default), `c4`, another registry text, or a file path.
    public var source: String
    public var samples: Int
    public var seqlen: Int
    public var sampling: CalibrationSampling
    public var seed: UInt64
    /// Calibrating on the perplexity test text is refused unless this is set.
    public var allowTestText: Bool

    public init(source: String = "wiki", samples: Int = 128, seqlen: Int = 2048, sampling: CalibrationSampling = .random,
                seed: UInt64 = 0, allowTestText: Bool = false) {
        self.source = source
        self.samples = samples
        self.seqlen = seqlen
        self.sampling = sampling
        self.seed = seed
        self.allowTestText = allowTestText
    }
}

public struct CalibrationError: Error, CustomStringConvertible {
    public let description: String
}

/// Calibration windows: `samples` sequences of `seqlen` token ids from one text, tokenized
/// as the perplexity protocol tokenizes (once, whole, with the tokenizer's own special
/// tokens at the start).
public struct CalibrationSet: Sendable {
    public let settings: CalibrationSettings
    public let corpus: String
    /// SHA-256 of the text's file, for provenance.
    public let sourceSHA256: String?
    public let tokenCount: Int
    /// Where each window starts in the tokenized text.
    public let offsets: [Int]
    public let windows: [[Int32]]

    /// Texts perplexity is evaluated on.
    public static let testTextIDs = ["wikitext2"]

    /// The registry id of the test text `corpus` is, by name or, for a file given by path,
    /// by content hash.
    static func testTextID(of corpus: TextCorpus) throws -> String? {
        if let id = corpus.source.asset?.id { return testTextIDs.contains(id) ? id : nil }
        let hash = SHA256.hex(of: Data(corpus.bytes))
        return testTextIDs.first { AssetRegistry.asset(named: $0, kind: .text)?.sha256 == hash }
    }

    public init(_ settings: CalibrationSettings, tokenizer: Tokenizer) throws {
        guard settings.samples >= 1, settings.seqlen >= 2 else {
            throw CalibrationError(description: "calibration needs at least 1 sample of at least 2 tokens, got \(settings.samples) × \(settings.seqlen)")
        }
        let corpus = try TextCorpus.load(settings.source)
        if !settings.allowTestText, let id = try Self.testTextID(of: corpus) {
            throw CalibrationError(description: "\(corpus.source.path): this is the perplexity test text '\(id)'; calibrating on it would "
                                   + "leak the evaluation data (pass --force-test-calibration to do it anyway)")
        }
        let ids = tokenizer.encode(corpus.bytes, addSpecialTokens: true)
        let needed = settings.sampling == .sequential ? settings.samples * settings.seqlen : settings.seqlen
        guard ids.count >= needed else {
            throw CalibrationError(description: "\(corpus.source.path): calibration shorter than requested: \(settings.samples) "
                                   + "\(settings.sampling.rawValue) windows of \(settings.seqlen) tokens need \(needed) tokens, the text has \(ids.count)")
        }
        switch settings.sampling {
        case .sequential:
            offsets = (0..<settings.samples).map { $0 * settings.seqlen }
        case .random:
            var generator = SeededGenerator(seed: settings.seed)
            offsets = (0..<settings.samples).map { _ in Int.random(in: 0...(ids.count - settings.seqlen), using: &generator) }
        }
        windows = offsets.map { Array(ids[$0..<($0 + settings.seqlen)]) }
        self.settings = settings
        self.corpus = corpus.name
        sourceSHA256 = corpus.source.asset?.sha256
        tokenCount = ids.count
    }

    /// The first `count` of these windows, as if only they had been asked for (a timing
    /// stand-in's method statistics, `prune --stand-in-windows`).
    public func first(_ count: Int) -> CalibrationSet {
        precondition((1...windows.count).contains(count), "1 to \(windows.count) windows")
        var settings = settings
        settings.samples = count
        return CalibrationSet(settings: settings, corpus: corpus, sourceSHA256: sourceSHA256, tokenCount: tokenCount,
                              offsets: Array(offsets.prefix(count)), windows: Array(windows.prefix(count)))
    }

    private init(settings: CalibrationSettings, corpus: String, sourceSHA256: String?, tokenCount: Int, offsets: [Int], windows: [[Int32]]) {
        self.settings = settings
        self.corpus = corpus
        self.sourceSHA256 = sourceSHA256
        self.tokenCount = tokenCount
        self.offsets = offsets
        self.windows = windows
    }

    /// Windows given directly (tests, or token ids prepared elsewhere); `corpus` names them.
    public init(windows: [[Int32]], corpus: String) {
        precondition(!windows.isEmpty && windows.allSatisfy { $0.count == windows[0].count }, "windows of one length")
        settings = CalibrationSettings(source: corpus, samples: windows.count, seqlen: windows[0].count, sampling: .sequential)
        self.corpus = corpus
        sourceSHA256 = nil
        tokenCount = windows.count * windows[0].count
        offsets = windows.indices.map { $0 * windows[0].count }
        self.windows = windows
    }
}
