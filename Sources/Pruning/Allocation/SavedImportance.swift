import Datasets
import Foundation
import H5Store

/// A finished gradient pass, kept beside every globally allocated model as `importance.h5`,
/// so that another prune of the same model on the same calibration windows (another ratio,
/// or `global` after `global_pca`) spends its budget from the same sums without running
/// the pass again (`prune --importance`). The sums are kept rather than the scores: each
/// allocation and unit size scores them its own way.
///
/// Schema: root attributes `identity` (JSON of `Identity`), `model_sha256`, `windows`,
/// `group_size`, `pca_covariances` (1 when the per-KV-group covariances `global_pca` needs
/// are present), `made_by_allocation`; `/provenance`; one float64 dataset per named array
/// of `ImportanceProgress` under `/sums` (`neurons`, `group_sums`, `loss`,
/// `covariance_counts`, `covariance_L_G`).
struct SavedImportance {
    static let fileName = "importance.h5"

    /// Everything that decides the sums.
    struct Identity: Codable, Equatable {
        let modelSHA256: String
        let calibration: CalibrationSettings
        let calibrationSHA256: String?
        let offsets: [Int]
        let groupSize: Int
    }

    let identity: Identity
    let progress: ImportanceProgress
    var hasCovariances: Bool { progress.arrays["covariance_counts"] != nil }

    func write(into folder: String, allocation: Allocation) throws {
        let h5 = try H5Writer(path: URL(fileURLWithPath: folder).appendingPathComponent(Self.fileName).path)
        try Provenance().write(to: h5)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try h5.setAttributes([
            "identity": .string(String(decoding: try encoder.encode(identity), as: UTF8.self)),
            "model_sha256": .string(identity.modelSHA256), "windows": .int(Int64(progress.windowsDone)),
            "group_size": .int(Int64(identity.groupSize)), "pca_covariances": .int(hasCovariances ? 1 : 0),
            "made_by_allocation": .string(allocation.rawValue),
        ])
        try h5.createGroup("/sums")
        for (name, values) in progress.arrays.sorted(by: { $0.key < $1.key }) {
            try h5.write(values, shape: [values.count], to: "/sums/\(name)")
        }
        try h5.commit()
    }

    /// The estimate in `path`: an `importance.h5`, or a pruned folder holding one.
    static func read(_ path: String) throws -> SavedImportance {
        var isFolder: ObjCBool = false
        let file = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
            ? URL(fileURLWithPath: path).appendingPathComponent(fileName).path : path
        let h5 = try H5Reader(path: file)
        guard case let .string(json)? = try? h5.attribute("identity"),
              let identity = try? JSONDecoder().decode(Identity.self, from: Data(json.utf8)),
              case let .int(windows)? = try? h5.attribute("windows"), h5.exists("/sums") else {
            throw PruningError("\(file): not an importance estimate written by `intraslice prune` (no identity, windows or /sums)")
        }
        var arrays: [String: [Double]] = [:]
        for name in try h5.children(of: "/sums") { arrays[name] = try h5.read("/sums/\(name)", as: Double.self).values }
        return SavedImportance(identity: identity, progress: ImportanceProgress(windowsDone: Int(windows), arrays: arrays))
    }

    /// Why this estimate cannot stand in for a gradient pass with `wanted` and `allocation`
    /// (nil: it can).
    func mismatch(with wanted: Identity, allocation: Allocation) -> String? {
        if identity.modelSHA256 != wanted.modelSHA256 {
            return "it was made on the model with SHA-256 \(identity.modelSHA256), this run prunes \(wanted.modelSHA256)"
        }
        if identity.calibration != wanted.calibration || identity.calibrationSHA256 != wanted.calibrationSHA256 || identity.offsets != wanted.offsets {
            let c = identity.calibration
            return "it was made on other calibration windows (\(c.samples) × \(c.seqlen) tokens of \(c.source), \(c.sampling.rawValue), seed \(c.seed)); "
                + "pass the same --calibration, --cal-samples, --cal-seqlen, --cal-sampling and --seed"
        }
        if identity.groupSize != wanted.groupSize {
            return "its gradients were summed in groups of \(identity.groupSize), this run asks --allocation-group \(wanted.groupSize)"
        }
        if progress.windowsDone != wanted.calibration.samples { return "it holds \(progress.windowsDone) of \(wanted.calibration.samples) windows" }
        if allocation == .globalPCA && !hasCovariances {
            return "it lacks the PCA covariances global_pca needs (it was made by a global allocation; one made by global_pca serves both)"
        }
        return nil
    }
}
