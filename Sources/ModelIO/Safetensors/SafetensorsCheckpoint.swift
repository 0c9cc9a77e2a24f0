import Foundation

/// The weights of a HuggingFace model folder: `model.safetensors`, or shards listed by
/// `model.safetensors.index.json` (its `weight_map` maps each tensor name to a shard
/// file in the same folder). Callers ask for tensors by name and never see the shards.
public final class SafetensorsCheckpoint: @unchecked Sendable {
    public let folder: String
    /// The opened files, in shard-name order (one when the checkpoint is not sharded).
    public let files: [SafetensorsFile]
    private let fileByTensor: [String: SafetensorsFile]

    public static let singleFileName = "model.safetensors"
    public static let indexFileName = "model.safetensors.index.json"

    public init(folder: String) throws {
        self.folder = folder
        let base = URL(fileURLWithPath: folder)
        let indexPath = base.appendingPathComponent(Self.indexFileName).path
        let singlePath = base.appendingPathComponent(Self.singleFileName).path

        if FileManager.default.fileExists(atPath: indexPath) {
            guard let data = FileManager.default.contents(atPath: indexPath) else {
                throw ModelFileError(path: indexPath, message: "cannot read")
            }
            guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                  let weightMap = json["weight_map"] as? [String: Any] else {
                throw ModelFileError(path: indexPath, message: "not a JSON object with a weight_map")
            }
            var shardByTensor: [String: String] = [:]
            for (tensor, shard) in weightMap {
                guard let shard = shard as? String, !shard.contains("/") else {
                    throw ModelFileError(path: indexPath, message: "weight_map entry of \(tensor) is not a file name in the folder")
                }
                shardByTensor[tensor] = shard
            }
            var opened: [String: SafetensorsFile] = [:]
            for shard in Set(shardByTensor.values).sorted() {
                opened[shard] = try SafetensorsFile(path: base.appendingPathComponent(shard).path)
            }
            var fileByTensor: [String: SafetensorsFile] = [:]
            for (tensor, shard) in shardByTensor {
                let file = opened[shard]!
                guard file.tensor(named: tensor) != nil else {
                    throw ModelFileError(path: file.path, message: "tensor \(tensor) is listed in \(Self.indexFileName) but missing from this shard")
                }
                fileByTensor[tensor] = file
            }
            files = opened.keys.sorted().map { opened[$0]! }
            self.fileByTensor = fileByTensor
        } else if FileManager.default.fileExists(atPath: singlePath) {
            let file = try SafetensorsFile(path: singlePath)
            files = [file]
            fileByTensor = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, file) })
        } else {
            throw ModelFileError(path: folder, message: "no \(Self.singleFileName) or \(Self.indexFileName) in this folder")
        }
    }

    /// Every tensor name, sorted.
    public var tensorNames: [String] { fileByTensor.keys.sorted() }

    /// The tensor and the shard that holds it.
    public func tensor(named name: String) -> (file: SafetensorsFile, info: SafetensorsTensorInfo)? {
        guard let file = fileByTensor[name], let info = file.tensor(named: name) else { return nil }
        return (file, info)
    }

    public func floats(_ name: String) throws -> [Float] {
        guard let (file, info) = tensor(named: name) else {
            throw ModelFileError(path: folder, message: "no tensor named \(name) in the checkpoint")
        }
        return try file.floats(info)
    }
}
