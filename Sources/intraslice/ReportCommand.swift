import ArgumentParser
import Foundation
import H5Store
import Reports

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render tables and plots from results folders (one subfolder per model, pruned ones with their pruning.json).",
        subcommands: [PerplexityTableReport.self, SpeedupReport.self, AllocationReport.self, ActivationsReport.self]
    )
}

struct PerplexityTableReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ppl-table",
        abstract: "Perplexity and parameter counts of the dense model and every pruned cell of a grid folder.",
        discussion: "Each cell holds the ppl.h5 of `eval ppl --output` (Scripts/run-ppl-table.sh lays the folder out so)."
    )

    @OptionGroup var options: TableReportOptions

    func run() throws {
        try checkOutputFile(options.output)
        let table = try PerplexityTable(folder: options.folder)
        try options.emit("report ppl-table", table.markdown, rows: table.rows.count, sourceModel: table.sourceModel)
    }
}

struct SpeedupReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speedup",
        abstract: "Latency-suite speedups of pruned models over the dense one, beside their parameter reduction.",
        discussion: "Each cell holds the latency.h5 of `bench latency --output`, all timed with the same thread count."
    )

    @OptionGroup var options: TableReportOptions

    func run() throws {
        try checkOutputFile(options.output)
        let table = try SpeedupTable(folder: options.folder)
        try options.emit("report speedup", table.markdown, rows: table.rowCount, sourceModel: table.sourceModel)
    }
}

struct AllocationReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allocation",
        abstract: "Draw the per-layer attention and MLP ratios of pruned folders (their pruning.json) as an SVG chart.",
        discussion: "Several folders (e.g. the same ratio under uniform, global and global_pca) share one chart."
    )

    @Argument(help: "Pruned folders.") var folders: [String]
    @Option(help: "The SVG file to write.") var output: String
    @OptionGroup var outputOptions: OutputOptions

    func run() throws {
        try checkOutputFile(output)
        let plot = try AllocationPlot(folders: folders)
        try OutputFile(output).write(Data(plot.svg.utf8))
        FileHandle.standardError.write(Data("wrote \(output)\n".utf8))
        if outputOptions.json { JSONOutput.emit(["command": "report allocation", "folders": folders, "output": output] as [String: Any]) }
    }
}

struct ActivationsReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activations",
        abstract: "Draw statistics files of `intraslice activations` as SVG plots: spectra, variance kept, drift from the dense model, outliers.",
        discussion: "Spectra and variance kept come from the first file; drift (files made with --reference), largest magnitudes and outlier shares put every file on one chart."
    )

    @Argument(help: "Statistics files (HDF5).") var files: [String]
    @Option(help: "The site the spectra and outlier plots show.") var site = "residual_in"
    @Option(help: "Legend labels, comma-separated, one per file (default: the model, or the pruning method and ratio).") var labels: String?
    @Option(help: "The folder to write the plots into (created if absent).") var output: String
    @OptionGroup var outputOptions: OutputOptions

    func run() throws {
        let plots = try ActivationPlots(files: files, site: site, labels: labels.map { $0.split(separator: ",").map(String.init) })
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        var written: [String] = []
        for (name, svg) in plots.svgs.sorted(by: { $0.key < $1.key }) {
            let path = (output as NSString).appendingPathComponent(name)
            try OutputFile(path).write(Data(svg.utf8))
            written.append(path)
        }
        print("\(written.count) plots from \(files.count) statistics file\(files.count == 1 ? "" : "s") into \(output)")
        if outputOptions.json { JSONOutput.emit(["command": "report activations", "files": written]) }
    }
}

struct TableReportOptions: ParsableArguments {
    @Argument(help: "The results folder.") var folder: String
    @Option(help: "Also write the table to this file.") var output: String?
    @OptionGroup var outputOptions: OutputOptions

    /// Prints the table, writes it atomically to `--output` when asked, then the JSON line.
    func emit(_ command: String, _ markdown: String, rows: Int, sourceModel: String?) throws {
        let text = markdown + (sourceModel.map { "\nPruned from \($0).\n" } ?? "")
        print(text, terminator: "")
        if let output { try OutputFile(output).write(Data(text.utf8)) }
        guard outputOptions.json else { return }
        var json: [String: Any] = ["command": command, "folder": folder, "rows": rows, "table": text]
        if let output { json["output"] = output }
        JSONOutput.emit(json)
    }
}
