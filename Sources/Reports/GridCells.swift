import Foundation
import H5Store
import ModelIO

/// The cells of a results folder: one subfolder per model, holding a results file and, for
/// a pruned model, the `pruning.json` that `prune` wrote; the cell without one is the dense
/// model. Every pruned cell must come from the same source model.
struct GridCells {
    struct Cell {
        let name: String
        let path: String
        /// nil for the dense model.
        let pruning: PruningMetadata?
        /// The cell's parameter counts: after pruning, or the source's for the dense cell
        /// (nil when no pruned cell says what its source had).
        let parameters: ParameterCounts?
    }

    /// Dense first, then by method (magnitude, wanda, slicegpt, intraslice) and ratio.
    let cells: [Cell]
    /// The source model's name and SHA-256, when any cell is pruned.
    let sourceModel: String?

    private static let methodOrder = ["magnitude", "wanda", "slicegpt", "intraslice"]

    init(folder: String, holding file: String) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter {
            FileManager.default.fileExists(atPath: "\(folder)/\($0)/\(file)")
        }
        guard !names.isEmpty else { throw ReportError("\(folder): no cell folder holds a \(file)") }
        let metadata = try names.map { name -> PruningMetadata? in
            let path = "\(folder)/\(name)/pruning.json"
            return FileManager.default.fileExists(atPath: path) ? try PruningMetadata.read(path) : nil
        }
        let sources = Set(metadata.compactMap { $0?.source })
        guard sources.count <= 1 else {
            throw ReportError("\(folder): cells were pruned from different models: \(sources.map { "\($0.name) \($0.sha256)" }.sorted())")
        }
        guard Set(metadata.compactMap { $0?.before }).count <= 1 else {
            throw ReportError("\(folder): the cells' pruning.json files disagree on their source's parameter counts")
        }
        let denseNames = zip(names, metadata).filter { $1 == nil }.map(\.0).sorted()
        guard denseNames.count <= 1 else {
            throw ReportError("\(folder): \(denseNames.count) cells have no pruning.json (\(denseNames.joined(separator: ", "))); "
                              + "only the dense model's cell may lack one")
        }
        if let source = sources.first {
            for (name, record) in zip(names, metadata) {
                try Self.checkMeasuredModel(cell: "\(folder)/\(name)/\(file)", pruning: record, sourceSHA256: source.sha256)
            }
        }
        let dense = metadata.lazy.compactMap { $0?.before }.first
        cells = zip(names, metadata).map { Cell(name: $0, path: "\(folder)/\($0)/\(file)", pruning: $1, parameters: $1?.after ?? dense) }
            .sorted { a, b in
                func key(_ c: Cell) -> (Int, Double, String) {
                    (c.pruning.map { Self.methodOrder.firstIndex(of: $0.method) ?? Self.methodOrder.count } ?? -1, c.pruning?.ratio ?? 0, c.name)
                }
                return key(a) < key(b)
            }
        sourceModel = sources.first.map { "\($0.name) \($0.sha256)" }
    }

    /// A results file belongs in its cell: the dense cell's was measured on the source
    /// model itself, a pruned cell's on a model pruned from it by the cell's method and
    /// ratio (files written since provenance records these say so; older ones at least
    /// must not be the source's).
    private static func checkMeasuredModel(cell path: String, pruning: PruningMetadata?, sourceSHA256: String) throws {
        let provenance = try H5Reader(path: path).attributes(of: "/provenance")
        guard let measured = provenance["model_sha256"]?.stringValue else { throw ReportError("\(path): /provenance has no model_sha256") }
        guard let pruning else {
            guard measured == sourceSHA256 else {
                throw ReportError("\(path): the dense cell's results were measured on model \(measured), not on the pruned cells' source \(sourceSHA256)")
            }
            return
        }
        guard measured != sourceSHA256 else {
            throw ReportError("\(path): measured on the dense source model, but the cell holds a \(pruning.label) pruning.json")
        }
        let recorded: [(String, String?, String)] = [
            ("source_model_sha256", provenance["source_model_sha256"]?.stringValue, sourceSHA256),
            ("pruning_method", provenance["pruning_method"]?.stringValue, pruning.method),
            ("pruning_ratio", provenance["pruning_ratio"]?.doubleValue.map { "\($0)" }, "\(pruning.ratio)"),
            ("pruning_ratio_kind", provenance["pruning_ratio_kind"]?.stringValue, pruning.ratioKind),
        ]
        for (key, value, expected) in recorded {
            if let value, value != expected {
                throw ReportError("\(path): /provenance \(key) is \(value), the cell's pruning.json says \(expected)")
            }
        }
    }
}

/// Exact parameter counts by part, as `pruning.json` gives them.
struct ParameterCounts: Hashable, Decodable {
    var total, decoderLayers, embedding, head, shortcuts: Int
    enum CodingKeys: String, CodingKey { case total, decoderLayers = "decoder_layers", embedding, head, shortcuts }
}

/// The part of a pruned folder's `pruning.json` a report reads.
struct PruningMetadata: Decodable {
    let method: String
    let ratio: Double
    let ratioKind: String
    let decoderReduction: Double
    let before, after: ParameterCounts
    let source: Source
    /// Absent in folders written before allocations existed.
    let allocation: Allocation?

    struct Source: Hashable, Decodable { let name, sha256: String }

    struct Allocation: Decodable {
        struct Settings: Decodable { let allocation: String }
        let settings: Settings
        let attentionRatios: [Double]
        let mlpRatios: [Double]
        enum CodingKeys: String, CodingKey { case settings, attentionRatios = "attention_ratios", mlpRatios = "mlp_ratios" }
    }

    enum CodingKeys: String, CodingKey {
        case method, ratio, ratioKind = "ratio_kind", decoderReduction = "decoder_reduction", before = "parameters_before",
             after = "parameters_after", source = "source_model", allocation
    }

    /// "slicegpt 25 % (params)".
    var label: String { String(format: "%@ %.0f %% (%@)", method, ratio * 100, ratioKind) }

    static func read(_ path: String) throws -> PruningMetadata {
        guard let data = try? RegularFile.read(path) else { throw ReportError("\(path): cannot be read") }
        do { return try JSONDecoder().decode(PruningMetadata.self, from: data) } catch {
            throw ReportError("\(path): not a pruning.json (\(describeDecodingFailure(error)))")
        }
    }
}

public struct ReportError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// "106.20 M".
func millions(_ n: Int?) -> String { n.map { String(format: "%.2f M", Double($0) / 1e6) } ?? "–" }
