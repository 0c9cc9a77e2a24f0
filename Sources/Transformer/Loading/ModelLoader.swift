import Foundation
import H5Store
import ModelIO

/// A model ready to run, with its tokenizer and where it came from.
public struct LoadedModel {
    /// The model; a streamed one holds `DecoderLayer.unloaded` in place of its layers.
    public let model: TransformerModel
    /// A streamed model's layers, read from the mapped checkpoint one at a time (nil when
    /// the model is resident).
    public let streamedLayers: StreamedLayers?
    public let tokenizer: Tokenizer
    /// The registry name, or the path the user gave.
    public let name: String
    /// The GGUF file or the checkpoint folder.
    public let path: String
    public let loadSeconds: Double

    public init(model: TransformerModel, streamedLayers: StreamedLayers? = nil, tokenizer: Tokenizer, name: String, path: String,
                loadSeconds: Double) {
        self.model = model
        self.streamedLayers = streamedLayers
        self.tokenizer = tokenizer
        self.name = name
        self.path = path
        self.loadSeconds = loadSeconds
    }

    /// Where the layers come from, whichever way the model is held.
    public var layers: LayerSource { streamedLayers ?? ResidentLayers(model.layers) }

    /// A streamed model without its embedding and head, which `StreamedLayers.vocabulary`
    /// reads again when they are needed; a resident one as it is.
    public var releasingStreamedVocabulary: LoadedModel {
        guard streamedLayers != nil else { return self }
        var model = model
        model.releaseVocabulary()
        return LoadedModel(model: model, streamedLayers: streamedLayers, tokenizer: tokenizer, name: name, path: path, loadSeconds: loadSeconds)
    }

    /// Parameters by part, counted from the weights (a streamed model's layers as they were
    /// checked at load time).
    public var parameterCounts: ParameterCounts {
        guard let streamedLayers else { return model.parameterCounts }
        let counts = (0..<streamedLayers.layerCount).map(streamedLayers.parameterCount)
        let outside = model.parameterCounts
        let decoder = counts.reduce(0) { $0 + $1.total }
        return ParameterCounts(total: outside.total + decoder, decoderLayers: decoder, embedding: outside.embedding, head: outside.head,
                               shortcuts: counts.reduce(0) { $0 + $1.shortcuts })
    }

    /// SHA-256 of the checkpoint, for provenance (computed on request: it reads every
    /// byte). For a folder, the hash of the sorted "file name  file hash" lines of its
    /// config, tokenizer and safetensors files; a pruned folder's `pruning.json` is left
    /// out, being the record of how it was made (its times differ from run to run), not
    /// part of the model, so the same prune repeated has the same hash.
    public func checkpointSHA256() throws -> String {
        guard ModelLoader.isFolder(path) else { return try SHA256.hex(ofFile: path) }
        let names = try FileManager.default.contentsOfDirectory(atPath: path)
            .filter { ($0.hasSuffix(".json") || $0.hasSuffix(".safetensors")) && $0 != "pruning.json" }.sorted()
        let lines = try names.map { "\($0)  \(try SHA256.hex(ofFile: (path as NSString).appendingPathComponent($0)))\n" }
        return SHA256.hex(of: Data(lines.joined().utf8))
    }
}

public enum ModelLoader {
    /// Loads a registry model (`smollm2-135m`, …), a GGUF file, or a HuggingFace-style
    /// checkpoint folder (config.json, safetensors, tokenizer.json); `streamed` keeps the
    /// layers in the mapped checkpoint (see `StreamedLayers`).
    public static func load(_ nameOrPath: String, streamed: Bool = false) throws -> LoadedModel {
        let resolved = try AssetRegistry.resolve(nameOrPath, kind: .model)
        let start = Date()
        let opened: (model: TransformerModel, layers: StreamedLayers?)
        let tokenizer: Tokenizer
        if isFolder(resolved.path) {
            opened = try HFCheckpointLoader.open(folder: resolved.path, streamed: streamed)
            tokenizer = try folderTokenizer(resolved.path, hops: 0)
        } else {
            let file = try GGUFFile(path: resolved.path)
            opened = try GGUFLoader.open(file, streamed: streamed)
            tokenizer = try Tokenizer(gguf: file)
        }
        let model = opened.model
        // Every id the tokenizer can produce indexes an embedding row.
        guard tokenizer.vocabularySize <= model.vocabularySize else {
            throw ModelFileError(path: resolved.path, message: "the tokenizer has \(tokenizer.vocabularySize) tokens, "
                                 + "the embedding only \(model.vocabularySize) rows")
        }
        return LoadedModel(model: model, streamedLayers: opened.layers, tokenizer: tokenizer, name: resolved.asset?.id ?? nameOrPath,
                           path: resolved.path, loadSeconds: Date().timeIntervalSince(start))
    }

    /// The weight files of a registry model, GGUF file or checkpoint folder (its
    /// `.safetensors` shards) and their size in bytes; nil for a bare `config.json`.
    public static func checkpointFiles(_ nameOrPath: String) throws -> (path: String, bytes: Int)? {
        let resolved = try AssetRegistry.resolve(nameOrPath, kind: .model)
        if resolved.path.hasSuffix(".json") { return nil }
        let manager = FileManager.default
        func size(_ path: String) throws -> Int {
            do { return (try manager.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0 } catch {
                throw ModelFileError(path: path, message: "cannot read its size (\(error.localizedDescription))")
            }
        }
        guard isFolder(resolved.path) else { return (resolved.path, try size(resolved.path)) }
        let names = (try? manager.contentsOfDirectory(atPath: resolved.path)) ?? []
        let bytes = try names.filter { $0.hasSuffix(".safetensors") }.reduce(0) { $0 + (try size((resolved.path as NSString).appendingPathComponent($1))) }
        return (resolved.path, bytes)
    }

    /// The config of a model, read without its weights (for planning a run).
    public static func configuration(_ nameOrPath: String) throws -> ModelConfig {
        let resolved = try AssetRegistry.resolve(nameOrPath, kind: .model)
        if isFolder(resolved.path) { return try HFCheckpointLoader.configuration(folder: resolved.path) }
        if resolved.path.hasSuffix(".json") { return try HFCheckpointLoader.configuration(file: resolved.path) }
        return try GGUFLoader.configuration(GGUFFile(path: resolved.path)).config
    }

    /// Only the tokenizer of a model (no weights are read).
    public static func tokenizer(_ nameOrPath: String) throws -> Tokenizer {
        try tokenizer(nameOrPath, hops: 0)
    }

    private static func tokenizer(_ nameOrPath: String, hops: Int) throws -> Tokenizer {
        let resolved = try AssetRegistry.resolve(nameOrPath, kind: .model)
        if isFolder(resolved.path) { return try folderTokenizer(resolved.path, hops: hops) }
        return try Tokenizer(gguf: GGUFFile(path: resolved.path))
    }

    /// How many `intraslice_tokenizer_source` links are followed: a folder pruned from a
    /// folder pruned from a GGUF needs two; a chain longer than this is a loop.
    static let tokenizerSourceHops = 8

    static func isFolder(_ path: String) -> Bool {
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
    }

    /// The folder's `tokenizer.json`, or else the tokenizer of the model its config names
    /// as `intraslice_tokenizer_source` (a model pruned from a GGUF).
    private static func folderTokenizer(_ folder: String, hops: Int) throws -> Tokenizer {
        let url = URL(fileURLWithPath: folder).appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: url.path) { return try Tokenizer(huggingFaceJSON: url) }
        let configURL = URL(fileURLWithPath: folder).appendingPathComponent("config.json")
        if let data = try? RegularFile.read(configURL.path), let config = try? JSONDecoder().decode(ModelConfig.self, from: data),
           let source = config.tokenizerSource {
            guard hops < tokenizerSourceHops else {
                throw ModelFileError(path: configURL.path, message: "intraslice_tokenizer_source links more than \(tokenizerSourceHops) "
                                     + "folders in a row (a loop?); point it at the model the tokenizer comes from")
            }
            do { return try tokenizer(source, hops: hops + 1) } catch where hops == 0 {
                // Said once, by the folder the user named, not once per link of a chain.
                throw ModelFileError(path: configURL.path, message: "the tokenizer comes from '\(source)', which cannot be read: \(error)")
            }
        }
        throw ModelFileError(path: url.path, message: "missing: a checkpoint folder needs its tokenizer.json")
    }
}
