import Foundation
import H5Store

/// Measured speed of pruned models against the dense one, beside their parameter
/// reduction, for every cell of a folder whose cells hold the `latency.h5` of
/// `bench latency --output` (see `GridCells`). The dense row gives absolute numbers (prefill
/// tokens/s, decode ms per step), the others the speedup over it: a ratio of two runs of
/// the same suite on the same machine.
public struct SpeedupTable {
    /// One measured shape: "prefill_b1_l512" or "decode_b4_c2048", and its rate.
    struct Measurement {
        let shape: String
        /// Prefill tokens/s, or decode steps per second.
        let rate: Double
        let label: String
        /// Prefill shapes first, then by batch and sequence length or context.
        let order: [Int]
    }

    struct Row {
        let cell: GridCells.Cell
        let measurements: [String: Measurement]
        let threads: Int
    }

    let rows: [Row]
    let shapes: [Measurement]
    public var rowCount: Int { rows.count }
    public let sourceModel: String?

    public init(folder: String) throws {
        let grid = try GridCells(folder: folder, holding: "latency.h5")
        rows = try grid.cells.map { cell in
            let h5 = try H5Reader(path: cell.path)
            var measurements: [String: Measurement] = [:]
            for shape in try h5.children(of: "/latency") where shape.hasPrefix("prefill_") || shape.hasPrefix("decode_") {
                let a = try h5.attributes(of: "/latency/\(shape)")
                if shape.hasPrefix("prefill_"), let rate = a["tokens_per_second"]?.doubleValue, let b = a["batch"]?.intValue, let l = a["seqlen"]?.intValue {
                    measurements[shape] = Measurement(shape: shape, rate: rate, label: "prefill \(b)×\(l) tok/s", order: [0, Int(b), Int(l)])
                } else if let ms = a["ms_per_step"]?.doubleValue, let b = a["batch"]?.intValue, let c = a["context"]?.intValue {
                    measurements[shape] = Measurement(shape: shape, rate: 1000 / ms, label: "decode b\(b) @\(c) ms/step", order: [1, Int(b), Int(c)])
                } else {
                    throw ReportError("\(cell.path): /latency/\(shape) lacks its rate, batch or length")
                }
            }
            guard let threads = try h5.attributes(of: "/latency")["threads"]?.intValue else { throw ReportError("\(cell.path): /latency has no threads") }
            return Row(cell: cell, measurements: measurements, threads: Int(threads))
        }
        guard let dense = rows.first, dense.cell.pruning == nil else { throw ReportError("\(folder): no dense cell (one without pruning.json)") }
        guard Set(rows.map(\.threads)).count == 1 else { throw ReportError("\(folder): the cells were timed with different thread counts") }
        let timed = rows
        shapes = dense.measurements.values.sorted { $0.order.lexicographicallyPrecedes($1.order) }.filter { m in timed.allSatisfy { $0.measurements[m.shape] != nil } }
        guard !shapes.isEmpty else { throw ReportError("\(folder): no shape was timed in every cell") }
        sourceModel = grid.sourceModel
    }

    /// The table in Markdown: absolute numbers for the dense model, speedups for the others.
    public var markdown: String {
        var lines = ["| model | decoder-layer params | reduction | total params | " + shapes.map(\.label).joined(separator: " | ") + " |",
                     "|---|---|---|---|" + String(repeating: "---|", count: shapes.count)]
        for row in rows {
            let cells = shapes.map { shape -> String in
                let rate = row.measurements[shape.shape]!.rate
                guard row.cell.pruning != nil else { return shape.shape.hasPrefix("prefill_") ? String(format: "%.0f", rate) : String(format: "%.2f", 1000 / rate) }
                return String(format: "%.2f×", rate / shape.rate)
            }
            let p = row.cell.parameters
            lines.append("| \(row.cell.pruning?.label ?? "dense") | \(millions(p?.decoderLayers)) | \(String(format: "%.2f %%", (row.cell.pruning?.decoderReduction ?? 0) * 100)) | \(millions(p?.total)) | "
                         + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n\nThreads: \(rows[0].threads). Dense row: prefill tokens/s and decode ms per step; other rows: speedup over dense.\n"
    }
}
