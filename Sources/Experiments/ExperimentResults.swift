import Foundation
import ModelIO

/// A results folder as tables read it: the config it was run with and its finished cells,
/// in grid order (unfinished cells are listed, not guessed at).
public struct ExperimentResults: Sendable {
    public let config: ExperimentConfig
    public let cells: [CellRecord]
    public let unfinished: [String]

    public static func load(_ folder: URL) throws -> ExperimentResults {
        let identity = try ExperimentIdentity.read(folder)
        var cells: [CellRecord] = [], unfinished: [String] = []
        for cell in ExperimentGrid(identity.config).cells {
            let path = folder.appendingPathComponent("cells/\(cell.id)/cell.json")
            guard let data = try? Data(contentsOf: path) else {
                unfinished.append(cell.id)
                continue
            }
            do { cells.append(try JSONDecoder().decode(CellRecord.self, from: data)) } catch {
                throw ConfigError(path.path, "not a cell record (\(describeDecodingFailure(error)))")
            }
        }
        return ExperimentResults(config: identity.config, cells: cells, unfinished: unfinished)
    }
}
