import Foundation
import H5Store
import ModelIO

/// A model ready to run, with its tokenizer and where it came from.
public struct LoadedModel: Sendable {
    public let model: TransformerModel
    public let tokenizer: Tokenizer
    /// The registry name, or the path the user gave.
    public let name: String
    /// The GGUF file or the checkpoint folder.
    public let path: String
    public let loadSeconds: Double

    public init(model: TransformerModel, tokenizer: Tokenizer, name: String, path: String, loadSeconds: Double) {
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.path = path
        self.loadSeconds = loadSeconds
    }

    /// SHA-256 of the checkpoint, for provenance (computed on request: it reads every
    /// byte). For a folder, the hash of the sorted "file name  file hash" lines of its
    /// config, tokenizer and safetensors files.
    public func checkpointSHA256() throws -> String {
        guard ModelLoader.isFolder(path) else { return try SHA256.hex(ofFile: path) }
        let names = try FileManager.default.contentsOfDirectory(atPath: path)
            .filter { $0.hasSuffix(".json") || $0.hasSuffix(".safetensors") }.sorted()
        let lines = try names.map { "\($0)  \(try SHA256.hex(ofFile: (path as NSString).appendingPathComponent($0)))\n" }
        return SHA256.hex(of: Data(lines.joined().utf8))
    }
}

public enum ModelLoader {
    /// Loads a registry model (`smollm2-135m`, …), a GGUF file, or a HuggingFace-style
    /// checkpoint folder (config.json, safetensors, tokenizer.json).
    public static func load(_ nameOrPath: String) throws -> LoadedModel {
        let resolved = try AssetRegistry.resolve(nameOrPath, kind: .model)
        let start = Date()
        let model: TransformerModel
        let tokenizer: Tokenizer
        if isFolder(resolved.path) {
            model = try HFCheckpointLoader.load(folder: resolved.path)
            tokenizer = try folderTokenizer(resolved.path)
        } else {
            let file = try GGUFFile(path: resolved.path)
            model = try GGUFLoader.load(file)
            tokenizer = try Tokenizer(gguf: file)
        }
        return LoadedModel(model: model, tokenizer: tokenizer, name: resolved.asset?.id ?? nameOrPath, path: resolved.path,
                           loadSeconds: Date().timeIntervalSince(start))
    }

    /// Only the tokenizer of a model (no weights are read).
    public static func tokenizer(_ nameOrPath: String) throws -> Tokenizer {
        let resolved = try AssetRegistry.resolve(nameOrPath, kind: .model)
        if isFolder(resolved.path) { return try folderTokenizer(resolved.path) }
        return try Tokenizer(gguf: GGUFFile(path: resolved.path))
    }

    static func isFolder(_ path: String) -> Bool {
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
    }

    /// The folder's `tokenizer.json`, or else the tokenizer of the model its config names
    /// as `intraslice_tokenizer_source` (a model pruned from a GGUF).
    private static func folderTokenizer(_ folder: String) throws -> Tokenizer {
        let url = URL(fileURLWithPath: folder).appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: url.path) { return try Tokenizer(huggingFaceJSON: url) }
        let configURL = URL(fileURLWithPath: folder).appendingPathComponent("config.json")
        if let data = try? Data(contentsOf: configURL), let config = try? JSONDecoder().decode(ModelConfig.self, from: data),
           let source = config.tokenizerSource {
            do { return try tokenizer(source) } catch {
                throw ModelFileError(path: configURL.path, message: "the tokenizer comes from '\(source)', which cannot be read: \(error)")
            }
        }
        throw ModelFileError(path: url.path, message: "missing: a checkpoint folder needs its tokenizer.json")
    }
}
