import Experiments
import Foundation

/// The paper-style tables of an experiment's results, from its cell records alone: per
/// model, perplexity (rows methods, columns ratios, each with the pruned model's parameter
/// count), zero-shot accuracy (one column per task and the SliceGPT 5-task and IntraSlice
/// 7-task averages) and speed (each latency shape's speedup over the dense cell of the
/// same run, beside the parameter reduction). Cells of several calibration seeds show the
/// mean over seeds ± their standard deviation. Published numbers for the same model appear
/// as marked reference rows.
public struct ExperimentTables {
    public let results: ExperimentResults
    public let published: PublishedNumbers?

    public init(_ results: ExperimentResults, published: PublishedNumbers? = nil) {
        self.results = results
        self.published = published
    }

    /// Every table the results allow, model by model.
    public func all(standardErrors: Bool = false) -> [TextTable] {
        results.config.models.flatMap { model in
            perplexity(model: model) + (zeroShot(model: model, standardErrors: standardErrors).map { [$0] } ?? [])
                + (speed(model: model).map { [$0] } ?? []) + equalSpeed(model: model)
        }
    }

    /// A method as configured and a ratio: the cells of its seeds.
    struct Group {
        let label: String
        let ratio: Double?
        let cells: [CellRecord]
    }

    /// A row of the tables: a method as configured, and its calibration setting when the
    /// config has several (a calibration ablation).
    struct MethodRow {
        let label: String
        let method: ExperimentConfig.MethodEntry
        let calibration: ExperimentConfig.CalibrationEntry?

        func holds(_ cell: CellRecord) -> Bool { cell.method == method && (calibration == nil || cell.calibration == calibration) }
    }

    /// Methods in config order, each with every calibration setting in config order.
    var methodRows: [MethodRow] {
        let settings: [ExperimentConfig.CalibrationEntry?] = results.config.calibrations.count > 1 ? results.config.calibrations : [nil]
        return results.config.methods.flatMap { method in
            settings.map { MethodRow(label: method.label + ($0.map { " (\($0.label))" } ?? ""), method: method, calibration: $0) }
        }
    }

    /// The dense cell, then method rows in order, ratios ascending.
    func groups(model: String) -> [Group] {
        let cells = results.cells.filter { $0.model == model }
        var groups = [Group(label: "dense", ratio: nil, cells: cells.filter { $0.method == nil })]
        for row in methodRows {
            for ratio in results.config.ratios.sorted() {
                groups.append(Group(label: row.label, ratio: ratio, cells: cells.filter { row.holds($0) && $0.ratio == ratio && $0.equalSpeed == nil }))
            }
        }
        return groups.filter { !$0.cells.isEmpty }
    }

    func perplexity(model: String) -> [TextTable] {
        let ratios = results.config.ratios.sorted()
        let groups = groups(model: model)
        return (results.config.evaluations.perplexity ?? []).enumerated().map { index, entry in
            let columns = ["method", "dense ppl", "dense params"] + ratios.flatMap { ["\(percent($0)) ppl", "\(percent($0)) params"] }
            func measured(_ group: Group) -> [String] { [statistic(group.cells.map { $0.perplexity[index].ppl }), parameters(group.cells)] }
            let dense = groups.first { $0.ratio == nil }.map { [["dense"] + measured($0) + ratios.flatMap { _ in ["", ""] }] } ?? []
            let rows = dense + methodRows.map(\.label).map { label in
                [label, "", ""] + ratios.flatMap { ratio in groups.first { $0.label == label && $0.ratio == ratio }.map(measured) ?? ["–", "–"] }
            }
            let windows = Set(results.cells.compactMap { $0.perplexity.indices.contains(index) ? $0.perplexity[index].windows : nil })
            let references = (published?.entries(for: model, metric: "perplexity") ?? []).filter { $0.data == entry.data && $0.seqlen == entry.seqlen }
            let referenceRows = references.map { reference in
                [published?.label(reference, ratioKind: results.config.ratioKind.rawValue) ?? reference.method,
                 reference.value(at: 0).map { String(format: "%.2f", $0) } ?? "", ""]
                    + ratios.flatMap { [reference.value(at: $0).map { String(format: "%.2f", $0) } ?? "–", ""] }
            }
            return TextTable(title: "\(model): \(entry.data) perplexity at L = \(entry.seqlen) (\(windows.sorted().map(String.init).joined(separator: "/")) windows), "
                             + "ratios of decoder-layer parameters (\(results.config.ratioKind.rawValue))",
                             columns: columns, rows: rows + referenceRows, marked: Set(rows.count..<(rows.count + referenceRows.count)),
                             notes: seedNote + ["params: all parameters of the model as stored (embedding and head included)."]
                                 + referenceNote(references))
        }
    }

    func zeroShot(model: String, standardErrors: Bool) -> TextTable? {
        let groups = groups(model: model).filter { $0.cells.allSatisfy { $0.zeroshot != nil } }
        guard let first = groups.first?.cells.first?.zeroshot else { return nil }
        let tasks = ZeroShotColumns.order.filter { first.tasks[$0] != nil } + first.tasks.keys.filter { !ZeroShotColumns.order.contains($0) }.sorted()
        let averages = [("avg 5 (SliceGPT)", \ZeroShotRecord.averageSliceGPT5), ("avg 7 (IntraSlice)", \ZeroShotRecord.averageIntraSlice7)]
            .filter { first[keyPath: $0.1] != nil }
        let columns = ["method", "ratio"] + tasks + averages.map(\.0)
        let rows = groups.map { group -> [String] in
            let records = group.cells.compactMap(\.zeroshot)
            let taskCells = tasks.map { task -> String in
                let values = records.compactMap { $0.tasks[task] }
                guard values.count == records.count else { return "–" }
                let text = statistic(values.map { 100 * $0.reported }, digits: 2)
                return standardErrors && records.count == 1 ? text + String(format: " ± %.2f", 100 * values[0].reportedStderr) : text
            }
            let averageCells = averages.map { _, path in
                let values = records.compactMap { $0[keyPath: path] }
                return values.count == records.count ? statistic(values.map { 100 * $0 }, digits: 2) : "–"
            }
            return [group.label, group.ratio.map(percent) ?? "0 %"] + taskCells + averageCells
        }
        // Published averages, at the dense model and the ratios of this experiment.
        let metrics = averages.map { $0.1 == \ZeroShotRecord.averageSliceGPT5 ? "zeroshot_average_5" : "zeroshot_average_7" }
        let references = metrics.flatMap { published?.entries(for: model, metric: $0) ?? [] }
        var referenceRows: [[String]] = []
        for reference in references {
            for ratio in [0] + results.config.ratios.sorted() {
                guard let value = reference.value(at: ratio) else { continue }
                referenceRows.append([published?.label(reference, ratioKind: results.config.ratioKind.rawValue) ?? reference.method, ratio == 0 ? "0 %" : percent(ratio)]
                                     + tasks.map { _ in "–" } + metrics.map { $0 == reference.metric ? String(format: "%.2f", value) : "–" })
            }
        }
        let documents = first.tasks.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.documents)" }.joined(separator: ", ")
        var notes = ["Accuracy in %, each task's reported metric (acc_norm where the papers use it, else acc); documents per task: \(documents)."]
        if standardErrors { notes.append("± is the binomial standard error of one run.") }
        return TextTable(title: "\(model): zero-shot accuracy", columns: columns, rows: rows + referenceRows,
                         marked: Set(rows.count..<(rows.count + referenceRows.count)), notes: notes + seedNote + referenceNote(references))
    }

    func speed(model: String) -> TextTable? {
        let shapes = results.config.evaluations.latency ?? []
        let groups = groups(model: model)
        guard !shapes.isEmpty, let dense = groups.first(where: { $0.ratio == nil }), dense.cells.allSatisfy({ $0.latency.count == shapes.count }) else { return nil }
        let denseSeconds = shapes.indices.map { i in median(dense.cells.map { $0.latency[i].medianSeconds }) }
        let columns = ["method", "ratio", "decoder reduction", "params"] + shapes.map { "\($0.kind.rawValue) \($0.batch)×\($0.length)" }
        let rows = groups.map { group -> [String] in
            let reduction = group.cells.compactMap { $0.pruning?.decoderReduction }
            let speedups = shapes.indices.map { i -> String in
                guard group.cells.allSatisfy({ $0.latency.count == shapes.count }) else { return "–" }
                if group.ratio == nil {
                    let rate = median(group.cells.map { $0.latency[i].tokensPerSecond })
                    return String(format: "%.1f tok/s", rate)
                }
                return String(format: "%.2f×", median(group.cells.map { $0.latency[i].speedup ?? denseSeconds[i] / $0.latency[i].medianSeconds }))
            }
            return [group.label, group.ratio.map(percent) ?? "0 %", reduction.isEmpty ? "0 %" : String(format: "%.2f %%", 100 * reduction[0]),
                    parameters(group.cells)] + speedups
        }
        let threads = Set(groups.flatMap(\.cells).map(\.provenance.threads)).sorted().map(String.init).joined(separator: "/")
        let timed: [(label: String, cpus: [String])] = groups.map { ($0.label, $0.cells.map(\.provenance.cpu)) }
        return TextTable(title: "\(model): speed against the dense model in the same run", columns: columns, rows: rows,
                         notes: ["Dense row: tokens per second; others: the speedup over the dense model, timed in alternation with it in one process "
                                 + "(median over rounds of dense time / pruned time; in cells made before that, dense median / pruned median). \(threads) threads\(Self.machines(timed))."])
    }

    /// What the reference rows are and where they were published.
    func referenceNote(_ references: [PublishedNumbers.Entry]) -> [String] {
        guard let published, !references.isEmpty else { return [] }
        return ["Rows in italics: published numbers, not measured here (ratios of the kind they were published with)."]
            + published.citations(references)
    }

    /// The CPUs a table's rows were timed on (`timed`: each row's label and the CPU of each
    /// of its cells). Speedups, and so the ratios needed to reach one, depend on the machine:
    /// when the rows were timed on different CPUs the note says which row ran where.
    static func machines(_ timed: [(label: String, cpus: [String])]) -> String {
        let cpus = Array(Set(timed.flatMap(\.cpus))).sorted()
        guard cpus.count > 1 else { return cpus.first.map { " on \($0)" } ?? "" }
        let rows = cpus.map { cpu in "\(cpu) for \(timed.filter { $0.cpus.contains(cpu) }.map(\.label).joined(separator: ", "))" }
        return ". Timed on different CPUs, so speedups (and ratios needed) are not strictly comparable across them: " + rows.joined(separator: "; ")
    }

    var seedNote: [String] {
        let seeds = results.config.calibrations.map(\.seeds)
        return seeds.contains { $0.count > 1 }
            ? ["Pruned cells: mean ± standard deviation over calibration seeds \(Set(seeds.joined()).sorted().map(String.init).joined(separator: ", "))."] : []
    }
}

/// The zero-shot tasks in the order the papers print them.
enum ZeroShotColumns {
    static let order = ["piqa", "hellaswag", "winogrande", "arc_easy", "arc_challenge", "boolq", "openbookqa", "lambada"]
}

/// "25 %".
func percent(_ ratio: Double) -> String {
    let value = 100 * ratio
    return value.rounded() == value ? String(format: "%.0f %%", value) : String(format: "%.1f %%", value)
}

/// One value, or the mean ± standard deviation of several.
func statistic(_ values: [Double], digits: Int = 2) -> String {
    guard values.count > 1 else { return values.first.map { String(format: "%.\(digits)f", $0) } ?? "–" }
    let mean = values.reduce(0, +) / Double(values.count)
    let deviation = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
    return String(format: "%.\(digits)f ± %.\(digits)f", mean, deviation)
}

extension ExperimentTables {
    /// The model's stored parameter count after pruning; for the dense cell, the count
    /// before pruning that its pruned cells recorded.
    func parameters(_ cells: [CellRecord]) -> String {
        if let pruning = cells.first?.pruning { return millions(pruning.parametersAfter.total) }
        guard let model = cells.first?.model,
              let before = results.cells.first(where: { $0.model == model && $0.pruning != nil })?.pruning?.parametersBefore else { return "–" }
        return millions(before.total)
    }
}

private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
