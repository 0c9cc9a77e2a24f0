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
            let shardByTensor = try Self.readIndex(indexPath)
            var opened: [String: SafetensorsFile] = [:]
            for shard in Set(shardByTensor.values).sorted() {
                opened[shard] = try SafetensorsFile(path: base.appendingPathComponent(shard).path)
            }
            files = opened.keys.sorted().map { opened[$0]! }
            // Every tensor of every shard, each in exactly one shard: a name in two shards
            // would leave it to the index which copy is read, unnoticed.
            var holder: [String: SafetensorsFile] = [:]
            for file in files {
                for tensor in file.tensors {
                    if let other = holder[tensor.name] {
                        throw ModelFileError(path: file.path, message: "tensor \(ModelFileError.printable(tensor.name)) "
                            + "is also in \(URL(fileURLWithPath: other.path).lastPathComponent)")
                    }
                    holder[tensor.name] = file
                }
            }
            for (tensor, shard) in shardByTensor.sorted(by: { $0.key < $1.key }) where holder[tensor] !== opened[shard] {
                throw ModelFileError(path: opened[shard]!.path, message: "tensor \(ModelFileError.printable(tensor)) is listed in "
                    + "\(Self.indexFileName) but missing from this shard")
            }
            // A tensor the index does not list would be invisible to every reader of the
            // index (HuggingFace's included), so the checkpoint is not what it claims to be.
            for file in files {
                for tensor in file.tensors where shardByTensor[tensor.name] == nil {
                    throw ModelFileError(path: file.path, message: "tensor \(ModelFileError.printable(tensor.name)) is in this shard "
                        + "but not in the weight_map of \(Self.indexFileName)")
                }
            }
            fileByTensor = holder
        } else if FileManager.default.fileExists(atPath: singlePath) {
            let file = try SafetensorsFile(path: singlePath)
            files = [file]
            fileByTensor = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, file) })
        } else {
            throw ModelFileError(path: folder, message: "no \(Self.singleFileName) or \(Self.indexFileName) in this folder")
        }
    }

    /// The index's `weight_map`: tensor name → shard file name in the same folder.
    private static func readIndex(_ path: String) throws -> [String: String] {
        func fail(_ message: String) -> ModelFileError { ModelFileError(path: path, message: message) }
        let data = try RegularFile.read(path)
        let root: JSONValue
        do { root = try JSONValue.parse([UInt8](data)) } catch { throw fail("\(error)") }
        guard let weightMap = root["weight_map"]?.entries else { throw fail("not a JSON object with a weight_map") }
        var shardByTensor: [String: String] = [:]
        for (tensor, shard) in weightMap {
            let label = ModelFileError.printable(tensor)
            guard let shard = shard.string, !shard.contains("/"), !["", ".", ".."].contains(shard) else {
                throw fail("weight_map entry of \(label) is not a file name in the folder")
            }
            guard shardByTensor.updateValue(shard, forKey: tensor) == nil else {
                throw fail("weight_map lists \(label) twice")
            }
        }
        return shardByTensor
    }

    /// Every tensor name, sorted.
    public var tensorNames: [String] { fileByTensor.keys.sorted() }

    /// The tensor and the shard that holds it.
    /// Drops the mapped pages of every shard read so far from resident memory (see
    /// `MappedFile.releasePages`): a streamed model calls it after each layer.
    public func releasePages() { files.forEach { $0.file.releasePages() } }

    public func tensor(named name: String) -> (file: SafetensorsFile, info: SafetensorsTensorInfo)? {
        guard let file = fileByTensor[name], let info = file.tensor(named: name) else { return nil }
        return (file, info)
    }

    public func floats(_ name: String) throws -> [Float] {
        guard let (file, info) = tensor(named: name) else {
            throw ModelFileError(path: folder, message: "no tensor named \(ModelFileError.printable(name)) in the checkpoint")
        }
        return try file.floats(info)
    }
}
