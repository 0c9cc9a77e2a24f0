import Foundation
import H5Store

/// Joins the results folders of shards of one config (`experiment merge`): every finished
/// cell of each is copied into the target, which must be empty or a folder of the same
/// config. A cell finished in two sources, or a source of another config, is refused;
/// unfinished cells are left out and listed, for `experiment run` to finish in the target.
public enum ExperimentMerge {
    public struct Summary: Sendable {
        public let merged: [String]
        public let alreadyThere: [String]
        public let unfinished: [String]
    }

    public static func merge(_ sources: [URL], into target: URL) throws -> Summary {
        let identities = try sources.map(ExperimentIdentity.read)
        guard let first = identities.first else { throw ConfigError(target.path, "no folders to merge") }
        for (source, identity) in zip(sources, identities) where identity.configSHA256 != first.configSHA256 {
            throw ConfigError(source.path, "holds results of config '\(identity.name)' (SHA-256 \(identity.configSHA256.prefix(12))…), "
                              + "\(sources[0].path) of '\(first.name)' (\(first.configSHA256.prefix(12))…): only shards of one config merge")
        }
        try first.claim(target)
        var merged: [String] = [], there: [String] = [], unfinished: [String] = []
        for cell in ExperimentGrid(first.config).cells {
            let destination = target.appendingPathComponent("cells").appendingPathComponent(cell.id)
            let finished = sources.filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("cells/\(cell.id)/cell.json").path) }
            if finished.count > 1 {
                throw ConfigError(finished[1].path, "cell \(cell.id) is finished here and in \(finished[0].path): shards of one grid share no cell")
            }
            if FileManager.default.fileExists(atPath: destination.appendingPathComponent("cell.json").path) {
                there.append(cell.id)
                continue
            }
            guard let source = finished.first else {
                unfinished.append(cell.id)
                continue
            }
            try copyCell(from: source.appendingPathComponent("cells").appendingPathComponent(cell.id), to: destination)
            merged.append(cell.id)
        }
        return Summary(merged: merged, alreadyThere: there, unfinished: unfinished)
    }

    /// The cell's steps, then its `cell.json` last: a merge killed part-way leaves the cell
    /// unfinished in the target, never half-finished.
    private static func copyCell(from source: URL, to destination: URL) throws {
        let steps = destination.appendingPathComponent("steps")
        try FileManager.default.createDirectory(at: steps, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source.appendingPathComponent("steps").path) where name.hasSuffix(".json") {
            try OutputFile(steps.appendingPathComponent(name).path).write(Data(contentsOf: source.appendingPathComponent("steps/\(name)")))
        }
        try OutputFile(destination.appendingPathComponent("cell.json").path).write(Data(contentsOf: source.appendingPathComponent("cell.json")))
    }
}
