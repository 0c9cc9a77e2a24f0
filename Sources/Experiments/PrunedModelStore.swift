import Foundation
import H5Store

/// The work folder's pruned models, one per prune (model, method as configured, ratio and
/// its kind, calibration setting, seed): `WORK/pruned/<model>/<entry>/` beside its
/// `<entry>.prune.json` (the prune's result line) and `<entry>.lock`. Cells that prune
/// alike find one another's model instead of pruning again: two equal-speed searches'
/// common probes, and, with `--keep-models` and one `--work`, the cells of several configs
/// (the zero-shot table's and the perplexity table's at the same ratios). The entry's name
/// ends in a hash of that identity, so two models whose folders share a name never meet.
struct PrunedModelStore {
    let root: URL

    struct Entry {
        let folder: URL
        var lineFile: URL { folder.deletingLastPathComponent().appendingPathComponent("\(folder.lastPathComponent).prune.json") }
        var lockFile: URL { folder.deletingLastPathComponent().appendingPathComponent("\(folder.lastPathComponent).lock") }

        /// The prune's result line, when its model is whole.
        var line: Data? {
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("pruning.json").path) else { return nil }
            return try? Data(contentsOf: lineFile)
        }
    }

    /// What makes two prunes the same; hashed into the entry's name.
    private struct Identity: Encodable {
        let model: String
        let method: ExperimentConfig.MethodEntry
        let ratioKind: String
        let ratio: String
        let text: String, samples: Int, seqlen: Int, sampling: String
        let seed: UInt64
        /// Only for a timing stand-in (so a full prune's identity is what it always was).
        let standIn: Int?
    }

    /// The entry of a prune, or with `standIn` of its timing stand-in (`prune --stand-in-windows`).
    func entry(model: String, method: ExperimentConfig.MethodEntry, ratioKind: String, ratio: Double,
               calibration: ExperimentConfig.CalibrationEntry, seed: UInt64, standIn: Int? = nil) -> Entry {
        let ratioText = String(format: "%.3f", ratio)
        let identity = Identity(model: model, method: method, ratioKind: ratioKind, ratio: ratioText, text: calibration.text,
                                samples: calibration.samples, seqlen: calibration.seqlen, sampling: calibration.sampling, seed: seed, standIn: standIn)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let hash = SHA256.hex(of: (try? encoder.encode(identity)) ?? Data()).prefix(8)
        let name = "\(method.label)-\(ratioKind)-\(ratioText)-\(calibration.tag)-s\(seed)\(standIn.map { "-standin\($0)" } ?? "")-\(hash)"
        return Entry(folder: root.appendingPathComponent("pruned").appendingPathComponent(ExperimentGrid.folderName(model)).appendingPathComponent(name))
    }
}

/// The stored models one cell uses, each under a shared lock from when the cell has it
/// until the cell lets it go, so that no runner deletes a model another one evaluates.
final class HeldModels {
    private var locks: [String: FileLock] = [:]

    func holds(_ entry: PrunedModelStore.Entry) -> Bool { locks[entry.folder.path] != nil }

    func add(_ entry: PrunedModelStore.Entry, _ lock: FileLock) { locks[entry.folder.path] = lock }

    /// Lets `entry` go; with `delete`, removes it too unless another runner holds it.
    func release(_ entry: PrunedModelStore.Entry, delete: Bool) {
        locks.removeValue(forKey: entry.folder.path)?.release()
        guard delete, let lock = FileLock(entry.lockFile) else { return }
        defer { lock.release() }
        // The line first: a folder without its line is pruned again, never trusted.
        try? FileManager.default.removeItem(at: entry.lineFile)
        try? FileManager.default.removeItem(at: entry.folder)
    }

    func releaseAll(delete: Bool) {
        for path in Array(locks.keys) { release(PrunedModelStore.Entry(folder: URL(fileURLWithPath: path)), delete: delete) }
    }
}
