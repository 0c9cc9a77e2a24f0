import Experiments
import Foundation

/// The equal-speed comparison, one table per model and speed target: the ratio each method
/// needed to reach the target (found by bisection on speed measured against the dense model
/// in the same step), the speedup measured there, and the quality of the model at that
/// ratio (every perplexity entry and the zero-shot average).
extension ExperimentTables {
    func equalSpeed(model: String) -> [TextTable] {
        let cells = results.cells.filter { $0.model == model }
        let dense = cells.filter { $0.method == nil }
        let perplexity = results.config.evaluations.perplexity ?? []
        let zeroshot = results.config.evaluations.zeroshot != nil
        return (results.config.equalSpeed ?? []).compactMap { target -> TextTable? in
            let methods = methodRows.map { row in (row.label, cells.filter { row.holds($0) && $0.equalSpeed?.target == target }) }.filter { !$0.1.isEmpty }
            guard !methods.isEmpty else { return nil }
            let columns = ["method", "ratio needed", "decoder reduction", "params", "measured speedup", "probes"]
                + perplexity.map { "\($0.data) ppl (L = \($0.seqlen))" } + (zeroshot ? ["zero-shot avg"] : [])
            func quality(_ group: [CellRecord]) -> [String] {
                let ppl = perplexity.indices.map { i in
                    group.allSatisfy { $0.perplexity.count == perplexity.count } ? statistic(group.map { $0.perplexity[i].ppl }) : "–"
                }
                let accuracy = group.compactMap { $0.zeroshot.map(ZeroShotAverage.of) }
                return ppl + (zeroshot ? [accuracy.count == group.count ? statistic(accuracy.map { 100 * $0 }) : "–"] : [])
            }
            var rows: [[String]] = []
            if !dense.isEmpty { rows.append(["dense", "0 %", "0 %", parameters(dense), "1.00×", ""] + quality(dense)) }
            for (label, group) in methods {
                let searches = group.compactMap(\.equalSpeed)
                let probes = searches.map { String($0.probes.count) }.joined(separator: "/")
                guard searches.allSatisfy({ $0.ratio != nil }) else {
                    let best = searches.map { $0.probes.map(\.speedup).max() ?? 0 }.max() ?? 0
                    rows.append([label, "not reached", "–", "–", String(format: "%.2f× at %@", best, percent(target.maxRatio)), probes]
                                + Array(repeating: "–", count: perplexity.count + (zeroshot ? 1 : 0)))
                    continue
                }
                let chosen = searches.compactMap(\.chosen)
                rows.append([label, statistic(chosen.map { 100 * $0.ratio }, digits: 1) + " %", statistic(chosen.map { 100 * $0.decoderReduction }) + " %",
                             parameters(group), statistic(chosen.map(\.speedup)) + "×", probes] + quality(group))
            }
            let threads = Set(cells.map(\.provenance.threads)).sorted().map(String.init).joined(separator: "/")
            let timed: [(label: String, cpus: [String])] = methods.map { label, group in (label, group.map(\.provenance.cpu)) }
            let standIns = methods.compactMap { label, group -> (String, [Int])? in
                let windows = Set(group.compactMap(\.equalSpeed).flatMap(\.probes).compactMap(\.standInWindows)).sorted()
                return windows.isEmpty ? nil : (label, windows)
            }
            let standInNote = standIns.isEmpty ? "" : " Stand-ins were timed for "
                + standIns.map { "\($0.0) (\($0.1.map(String.init).joined(separator: "/")) calibration windows)" }.joined(separator: ", ")
                + " (prune --stand-in-windows); the prune at the ratio found has the tensor shapes of the stand-in timed there (checked)."
            return TextTable(title: "\(model): equal speed, \(target.label) the dense model",
                             columns: columns, rows: rows,
                             notes: ["Ratio needed: the smallest ratio whose measured speedup reached the target, by bisection in (0, \(percent(target.maxRatio))] "
                                     + "(\(target.steps) halvings after a probe at the largest ratio; probes: how many were pruned and timed). "
                                     + "Speedup: median over rounds of dense time / pruned time, the two timed in alternation in one process (bench speedup), \(threads) threads\(Self.machines(timed))." + standInNote] + seedNote)
        }
    }
}
