import Foundation

/// A small SVG line chart: series of (x, y) points drawn as lines with markers, linear or
/// logarithmic y, ticks at round values, a legend on the right. Every plot of the reports
/// is one of these; the SVG stands alone (no scripts, no external fonts or links).
public struct LineChart: Sendable {
    public struct Series: Sendable {
        public let label: String
        public let points: [(x: Double, y: Double)]
        /// Series sharing a colour index share a colour (a folder's attention and MLP).
        public let colour: Int
        public let dashed: Bool
        /// Markers only (a scatter).
        public let markersOnly: Bool

        public init(label: String, points: [(x: Double, y: Double)], colour: Int, dashed: Bool = false, markersOnly: Bool = false) {
            self.label = label
            self.points = points
            self.colour = colour
            self.dashed = dashed
            self.markersOnly = markersOnly
        }
    }

    public let title: String
    public let xLabel: String
    public let yLabel: String
    public let series: [Series]
    public var logY = false
    /// Fixed ranges (nil: from the data).
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    /// Integer x ticks (layers).
    public var integerX = false

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]

    public var svg: String {
        let width = 860.0, height = 400.0, left = 74.0, right = 290.0, top = 30.0, bottom = 48.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let xs = series.flatMap { $0.points.map(\.x) }, ys = series.flatMap { $0.points.map(\.y) }.filter { !logY || $0 > 0 }
        let xSpan = xRange ?? Self.span(xs)
        let ySpan = yRange ?? Self.span(logY ? ys.map(log10) : ys)
        let yTicks = logY ? Self.logTicks(ySpan) : Self.ticks(ySpan)
        let yLow = min(ySpan.lowerBound, yTicks.first ?? ySpan.lowerBound), yHigh = max(ySpan.upperBound, yTicks.last ?? ySpan.upperBound)
        let xTicks = integerX ? Self.integerTicks(xSpan) : Self.ticks(xSpan)
        let xLow = min(xSpan.lowerBound, xTicks.first ?? xSpan.lowerBound), xHigh = max(xSpan.upperBound, xTicks.last ?? xSpan.upperBound)
        func px(_ v: Double) -> Double { left + (xHigh > xLow ? (v - xLow) / (xHigh - xLow) : 0.5) * plotWidth }
        func py(_ v: Double) -> Double {
            let t = logY ? log10(max(v, 1e-300)) : v
            return top + (1 - (yHigh > yLow ? (t - yLow) / (yHigh - yLow) : 0.5)) * plotHeight
        }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(left))" y="19" font-size="14">\(escape(title))</text>

        """
        for tick in yTicks {
            let y = top + (1 - (tick - yLow) / max(yHigh - yLow, 1e-300)) * plotHeight
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y))\" stroke=\"#ddd\"/>"
            out += "<text x=\"\(f(left - 8))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(Self.label(logY ? pow(10, tick) : tick))</text>\n"
        }
        for tick in xTicks {
            out += "<text x=\"\(f(px(tick)))\" y=\"\(f(top + plotHeight + 16))\" text-anchor=\"middle\">\(Self.label(tick))</text>\n"
        }
        out += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        out += "<text transform=\"translate(14 \(f(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotHeight))\" stroke=\"black\"/>"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(top + plotHeight))\" stroke=\"black\"/>\n"
        for (i, s) in series.enumerated() {
            let colour = Self.colours[s.colour % Self.colours.count]
            let dash = s.dashed ? " stroke-dasharray=\"6 4\"" : ""
            let points = s.points.filter { !logY || $0.y > 0 }
            if !s.markersOnly && points.count > 1 {
                out += "<polyline points=\"\(points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.8\"\(dash)/>\n"
            }
            for p in points { out += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"\(s.markersOnly ? 4 : 2.5)\" fill=\"\(colour)\"/>" }
            let legendY = top + 12 + Double(i) * 20
            out += "\n<line x1=\"\(f(left + plotWidth + 14))\" y1=\"\(f(legendY - 4))\" x2=\"\(f(left + plotWidth + 40))\" y2=\"\(f(legendY - 4))\" stroke=\"\(colour)\" stroke-width=\"1.8\"\(dash)/>"
            out += "<text x=\"\(f(left + plotWidth + 46))\" y=\"\(f(legendY))\">\(escape(s.label))</text>\n"
        }
        return out + "</svg>\n"
    }

    static func span(_ values: [Double]) -> ClosedRange<Double> {
        guard let low = values.min(), let high = values.max() else { return 0...1 }
        return low == high ? (low - 0.5)...(high + 0.5) : low...high
    }

    /// About five round ticks covering `span`.
    static func ticks(_ span: ClosedRange<Double>) -> [Double] {
        let raw = (span.upperBound - span.lowerBound) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        let first = floor(span.lowerBound / step) * step
        return stride(from: first, through: span.upperBound + step * 0.999, by: step).map { ($0 / step).rounded() * step }
    }

    /// Whole powers of ten (in log10 units) covering `span`, at least two.
    static func logTicks(_ span: ClosedRange<Double>) -> [Double] {
        let low = floor(span.lowerBound), high = max(ceil(span.upperBound), low + 1)
        return stride(from: low, through: high, by: 1).map { $0 }
    }

    static func integerTicks(_ span: ClosedRange<Double>) -> [Double] {
        let low = Int(span.lowerBound.rounded(.down)), high = Int(span.upperBound.rounded(.up))
        let step = max(1, (high - low) / 10)
        return stride(from: low, through: high, by: step).map(Double.init)
    }

    static func label(_ value: Double) -> String {
        if abs(value) >= 1e4 { return String(format: "%.0e", value) }
        if value == value.rounded() { return String(format: "%.0f", value) }
        return String(format: "%g", (value * 1000).rounded() / 1000)
    }
}

/// Text for SVG or HTML.
func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        .replacingOccurrences(of: "\"", with: "&quot;")
}
