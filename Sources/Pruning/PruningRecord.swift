import Foundation
import H5Store
import ModelIO

/// What a pruned folder's `pruning.json` says about where the model came from, read back
/// so that results measured on the folder carry it in their provenance and a report can
/// tell which pruned model a results file belongs to.
public struct PruningRecord: Codable, Equatable, Sendable {
    public struct SourceModel: Codable, Equatable, Sendable {
        public let name: String
        public let sha256: String
    }

    public let method: String
    public let ratio: Double
    public let ratioKind: String
    public let sourceModel: SourceModel

    enum CodingKeys: String, CodingKey {
        case method, ratio, ratioKind = "ratio_kind", sourceModel = "source_model"
    }

    public static let fileName = "pruning.json"

    /// The record of the folder at `path`; nil when it is not a pruned folder.
    public static func read(modelPath path: String) throws -> PruningRecord? {
        let file = URL(fileURLWithPath: path).appendingPathComponent(fileName).path
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        do { return try JSONDecoder().decode(PruningRecord.self, from: RegularFile.read(file)) } catch let error as DecodingError {
            throw ModelFileError(path: file, message: describeDecodingFailure(error))
        }
    }

    /// The provenance fields of results measured on the pruned model.
    public var provenance: [String: H5AttributeValue] {
        ["pruning_method": .string(method), "pruning_ratio": .double(ratio), "pruning_ratio_kind": .string(ratioKind),
         "source_model_sha256": .string(sourceModel.sha256)]
    }
}
