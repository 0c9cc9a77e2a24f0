import Foundation
import H5Store

/// Perplexity beside exact parameter counts, for every cell of a grid folder whose cells
/// hold the `ppl.h5` of `eval ppl --output` (see `GridCells`).
public struct PerplexityTable {
    public struct Row {
        public let cell: String
        public let perplexity: Double
        let pruning: PruningMetadata?
        let parameters: ParameterCounts?
    }

    public let rows: [Row]
    public let sourceModel: String?
    /// The text, window length and window count every cell was measured on.
    public let data: String, seqlen: Int, windows: Int

    public init(folder: String) throws {
        let grid = try GridCells(folder: folder, holding: "ppl.h5")
        var settings = Set<String>()
        var measured: (data: String, seqlen: Int, windows: Int)?
        rows = try grid.cells.map { cell in
            let h5 = try H5Reader(path: cell.path)
            let texts = try h5.children(of: "/perplexity")
            guard texts.count == 1, let data = texts.first else {
                throw ReportError("\(cell.path): /perplexity holds \(texts.count) results; a table cell needs exactly one")
            }
            let attributes = try h5.attributes(of: "/perplexity/\(data)")
            func number(_ name: String) throws -> Int {
                guard let value = attributes[name]?.intValue else { throw ReportError("\(cell.path): /perplexity/\(data) has no \(name)") }
                return Int(value)
            }
            let windows = try number("windows"), available = try number("windows_available")
            guard windows == available else { throw ReportError("\(cell.path): the perplexity covers \(windows) of \(available) windows") }
            guard let ppl = attributes["ppl"]?.doubleValue else { throw ReportError("\(cell.path): /perplexity/\(data) has no ppl") }
            measured = (data, try number("seqlen"), windows)
            settings.insert("\(data) \(measured!.seqlen) \(windows)")
            return Row(cell: cell.name, perplexity: ppl, pruning: cell.pruning, parameters: cell.parameters)
        }
        guard settings.count == 1, let measured else {
            throw ReportError("\(folder): the cells' perplexities were measured on different texts, lengths or window counts: \(settings.sorted())")
        }
        (data, seqlen, windows) = measured
        sourceModel = grid.sourceModel
    }

    /// The table in Markdown, one row per cell.
    public var markdown: String {
        var lines = [
            "| model | decoder-layer params | reduction | total params | embedding | head | shortcuts | \(data) ppl (L = \(seqlen), \(windows) windows) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in rows {
            let p = row.parameters
            lines.append("| \(row.pruning?.label ?? "dense") | \(millions(p?.decoderLayers)) | \(String(format: "%.2f %%", (row.pruning?.decoderReduction ?? 0) * 100)) "
                         + "| \(millions(p?.total)) | \(millions(p?.embedding)) | \(p?.head == 0 ? "tied" : millions(p?.head)) | \(millions(p?.shortcuts)) | \(String(format: "%.2f", row.perplexity)) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
