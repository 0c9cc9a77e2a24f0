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

    private static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

    public var svg: String {
        let width = 760.0, height = 380.0, left = 56.0, right = 200.0, top = 28.0, bottom = 44.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let layers = series.map(\.mlp.count).max() ?? 1
        func x(_ layer: Int) -> Double { left + (layers > 1 ? Double(layer) / Double(layers - 1) : 0.5) * plotWidth }
        func y(_ ratio: Double) -> Double { top + (1 - ratio) * plotHeight }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(left))" y="18" font-size="14">Per-layer pruning ratios (fraction of each module's parameters removed)</text>

        """
        for tick in stride(from: 0.0, through: 1.0, by: 0.2) {
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y(tick)))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y(tick)))\" stroke=\"#ddd\"/>"
            out += "<text x=\"\(f(left - 8))\" y=\"\(f(y(tick) + 4))\" text-anchor=\"end\">\(String(format: "%.1f", tick))</text>\n"
        }
        let step = max(1, layers / 10)
        for layer in stride(from: 0, to: layers, by: step) {
            out += "<text x=\"\(f(x(layer)))\" y=\"\(f(top + plotHeight + 16))\" text-anchor=\"middle\">\(layer)</text>\n"
        }
        out += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">layer</text>\n"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotHeight))\" stroke=\"black\"/>"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(top + plotHeight))\" stroke=\"black\"/>\n"
        for (i, s) in series.enumerated() {
            let colour = Self.colours[i % Self.colours.count]
            for (values, dash) in [(s.attention, ""), (s.mlp, " stroke-dasharray=\"6 4\"")] {
                let points = values.enumerated().map { "\(f(x($0.offset))),\(f(y($0.element)))" }.joined(separator: " ")
                out += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.8\"\(dash)/>\n"
                for (layer, value) in values.enumerated() {
                    out += "<circle cx=\"\(f(x(layer)))\" cy=\"\(f(y(value)))\" r=\"2.5\" fill=\"\(colour)\"/>"
                }
                out += "\n"
            }
            let legendY = top + 16 + Double(i) * 40
            out += "<text x=\"\(f(left + plotWidth + 14))\" y=\"\(f(legendY))\" fill=\"\(colour)\">\(s.label)</text>\n"
            out += "<line x1=\"\(f(left + plotWidth + 14))\" y1=\"\(f(legendY + 12))\" x2=\"\(f(left + plotWidth + 40))\" y2=\"\(f(legendY + 12))\" stroke=\"\(colour)\" stroke-width=\"1.8\"/>"
            out += "<text x=\"\(f(left + plotWidth + 46))\" y=\"\(f(legendY + 16))\">attention</text>"
            out += "<line x1=\"\(f(left + plotWidth + 110))\" y1=\"\(f(legendY + 12))\" x2=\"\(f(left + plotWidth + 136))\" y2=\"\(f(legendY + 12))\" stroke=\"\(colour)\" stroke-width=\"1.8\" stroke-dasharray=\"6 4\"/>"
            out += "<text x=\"\(f(left + plotWidth + 142))\" y=\"\(f(legendY + 16))\">MLP</text>\n"
        }
        return out + "</svg>\n"
    }
}
