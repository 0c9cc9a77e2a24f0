import Experiments
import Foundation

/// The experiment's plots, per model: perplexity against the decoder-parameter reduction
/// each method reached (log y; every method's line starts at the dense model), zero-shot
/// average against the measured speedup of the first latency shape, and the per-layer
/// ratios of every non-uniform allocation.
extension ExperimentTables {
    public struct Plot: Sendable {
        public let title: String
        public let svg: String
    }

    public func plots() -> [Plot] {
        results.config.models.flatMap { model in
            perplexityPlots(model: model) + [zeroShotPlot(model: model)].compactMap { $0 } + allocationPlots(model: model)
        }
    }

    /// Method label → its pruned groups, ratios ascending.
    private func byMethod(_ model: String) -> [(label: String, groups: [Group])] {
        let groups = groups(model: model)
        return methodRows.map(\.label).map { label in (label, groups.filter { $0.label == label && $0.ratio != nil }) }
            .filter { !$0.groups.isEmpty }
    }

    func perplexityPlots(model: String) -> [Plot] {
        let dense = groups(model: model).first { $0.ratio == nil }
        return (results.config.evaluations.perplexity ?? []).enumerated().map { index, entry in
            let denseMean = dense.map { mean($0.cells.map { $0.perplexity[index].ppl }) }
            let series = byMethod(model).enumerated().map { i, method in
                LineChart.Series(label: method.label, points: (denseMean.map { [(0.0, $0)] } ?? []) + method.groups.map { group in
                    (100 * mean(group.cells.compactMap { $0.pruning?.decoderReduction }), mean(group.cells.map { $0.perplexity[index].ppl }))
                }, colour: i)
            }
            var chart = LineChart(title: "\(model): \(entry.data) perplexity (L = \(entry.seqlen)) against decoder-parameter reduction",
                                  xLabel: "decoder-layer parameters removed (%)", yLabel: "perplexity (log scale)", series: series)
            chart.logY = true
            return Plot(title: chart.title, svg: chart.svg)
        }
    }

    func zeroShotPlot(model: String) -> Plot? {
        guard let shape = results.config.evaluations.latency?.first, results.config.evaluations.zeroshot != nil,
              let dense = groups(model: model).first(where: { $0.ratio == nil }), dense.cells.allSatisfy({ $0.zeroshot != nil && !$0.latency.isEmpty }) else {
            return nil
        }
        let denseSeconds = mean(dense.cells.map { $0.latency[0].medianSeconds })
        func point(_ group: Group) -> (x: Double, y: Double)? {
            let accuracies = group.cells.compactMap { $0.zeroshot.map(ZeroShotAverage.of) }
            guard accuracies.count == group.cells.count, group.cells.allSatisfy({ !$0.latency.isEmpty }) else { return nil }
            return (mean(group.cells.map { $0.latency[0].speedup ?? denseSeconds / $0.latency[0].medianSeconds }), 100 * mean(accuracies))
        }
        let densePoint = point(dense)
        let series = byMethod(model).enumerated().map { i, method in
            LineChart.Series(label: method.label, points: (densePoint.map { [$0] } ?? []) + method.groups.compactMap(point), colour: i)
        }
        let chart = LineChart(title: "\(model): zero-shot average against measured \(shape.kind.rawValue) \(shape.batch)×\(shape.length) speedup",
                              xLabel: "speedup over the dense model (×)", yLabel: "zero-shot average accuracy (%)", series: series)
        return Plot(title: chart.title, svg: chart.svg)
    }

    func allocationPlots(model: String) -> [Plot] {
        results.config.ratios.sorted().compactMap { ratio -> Plot? in
            let series = byMethod(model).enumerated().flatMap { i, method -> [LineChart.Series] in
                guard let group = method.groups.first(where: { $0.ratio == ratio }), let allocation = group.cells.first?.pruning?.allocation,
                      Set(allocation.attentionRatios + allocation.mlpRatios).count > 1 else { return [] }
                let layers = { (values: [Double]) in values.enumerated().map { (Double($0.offset), $0.element) } }
                return [LineChart.Series(label: "\(method.label) attention", points: layers(allocation.attentionRatios), colour: i),
                        LineChart.Series(label: "\(method.label) MLP", points: layers(allocation.mlpRatios), colour: i, dashed: true)]
            }
            guard !series.isEmpty else { return nil }
            var chart = LineChart(title: "\(model): per-layer ratios at \(percent(ratio)) (fraction of each module's parameters removed)",
                                  xLabel: "layer", yLabel: "ratio", series: series)
            chart.yRange = 0...1
            chart.integerX = true
            return Plot(title: chart.title, svg: chart.svg)
        }
    }
}

/// The average a zero-shot record is summarised by: IntraSlice's 7-task one, else
/// SliceGPT's 5-task one, else the mean of its tasks' reported metrics.
enum ZeroShotAverage {
    static func of(_ record: ZeroShotRecord) -> Double {
        record.averageIntraSlice7 ?? record.averageSliceGPT5 ?? mean(record.tasks.values.map(\.reported))
    }
}

func mean(_ values: [Double]) -> Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count) }
