import Foundation
import H5Store
import ModelIO

/// What a model's speed depends on: the name and shape of every stored tensor, hashed
/// (SHA-256 of the sorted `name [d0, d1, …]` lines). Equal for a timing stand-in and the
/// full prune it stands in for, whatever their weights.
enum ModelShapes {
    static func sha256(of folder: URL) throws -> String {
        let checkpoint = try SafetensorsCheckpoint(folder: folder.path)
        let lines = checkpoint.tensorNames.compactMap { name in
            checkpoint.tensor(named: name).map { "\(name) \($0.info.shape)" }
        }
        return SHA256.hex(of: Data(lines.joined(separator: "\n").utf8))
    }
}
