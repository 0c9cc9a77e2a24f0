import Foundation
import ModelIO

/// The per-layer attention and MLP ratios of pruned folders (their `pruning.json`'s
/// `allocation`), drawn as one SVG chart: layers along x, the fraction of each module's
/// parameters removed along y, attention solid and MLP dashed, one colour per folder.
public struct AllocationPlot {
    struct Series {
        let label: String
        let attention: [Double]
        let mlp: [Double]
        let target: Double
    }

    let series: [Series]

    public init(folders: [String]) throws {
        series = try folders.map { folder in
            let path = "\(folder)/pruning.json"
            let record = try PruningMetadata.read(path)
            guard let allocation = record.allocation else {
                throw ReportError("\(path): no allocation recorded (written before allocations existed; re-create it with intraslice prune)")
            }
            guard allocation.attentionRatios.count == allocation.mlpRatios.count, !allocation.mlpRatios.isEmpty else {
                throw ReportError("\(path): the allocation's attention and MLP ratios disagree on the number of layers")
            }
            let label = String(format: "%@ %.0f %% %@", record.method, 100 * record.ratio, allocation.settings.allocation)
            return Series(label: label, attention: allocation.attentionRatios, mlp: allocation.mlpRatios, target: record.ratio)
        }
    }

    public var svg: String {
        let layers = series.map(\.mlp.count).max() ?? 1
        var chart = LineChart(title: "Per-layer pruning ratios (fraction of each module's parameters removed)", xLabel: "layer", yLabel: "ratio",
                              series: series.enumerated().flatMap { i, s in
                                  [LineChart.Series(label: "\(s.label) attention", points: s.attention.enumerated().map { (Double($0.offset), $0.element) }, colour: i),
                                   LineChart.Series(label: "\(s.label) MLP", points: s.mlp.enumerated().map { (Double($0.offset), $0.element) }, colour: i,
                                                    dashed: true)]
                              })
        chart.xRange = 0...Double(max(1, layers - 1))
        chart.yRange = 0...1
        chart.integerX = true
        return chart.svg
    }
}
