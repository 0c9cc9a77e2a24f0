import ArgumentParser
import Experiments
import Foundation
import H5Store
import Reports

struct Experiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Studies from a YAML config (Experiments/*.yaml): a grid of models × methods × ratios × seeds, pruned and evaluated.",
        subcommands: [ExperimentRun.self, ExperimentMergeCommand.self, ExperimentReport.self, ExperimentSlurm.self]
    )
}

struct ExperimentRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Runs a config's grid (or one shard of it) into a results folder; a killed run resumes where it stopped."
    )

    @Argument(help: "The config (YAML).") var config: String
    @Option(help: "The results folder (created; a folder of another config is refused).") var results: String
    @Option(help: "Only shard i of N (1-based: 1/2 and 2/2 together are the grid).") var shard: String?
    @Option(help: "Only the cells of this model of the config (repeatable).") var model: [String] = []
    @Option(help: "Only the cell with this id, as in RESULTS/cells/<id> (repeatable).") var cell: [String] = []
    @Option(help: "Where pruned models live until their cell is done (default: RESULTS/.work).") var work: String?
    @Flag(help: "Keep each cell's pruned model in the work folder.") var keepModels = false
    @Option(help: ArgumentHelp("Equal-speed probes time stand-ins whose methods measure on only N calibration windows (prune --stand-in-windows); the prune at the ratio found must have the stand-in's shapes.",
                               valueName: "N"))
    var standInWindows: Int?
    @Flag(help: "Only the equal-speed searches (the timed part); the prune at the ratio found and the evaluations are left for a later run.")
    var searchOnly = false
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        _ = try parsedShard()
        if let standInWindows, standInWindows < 1 { throw ValidationError("--stand-in-windows must be at least 1, got \(standInWindows)") }
    }

    /// `--shard i/N` as a 0-based index and a count.
    func parsedShard() throws -> (index: Int, count: Int)? {
        guard let shard else { return nil }
        let parts = shard.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (1...n).contains(i) else {
            throw ValidationError("--shard must be i/N with 1 ≤ i ≤ N, got '\(shard)'")
        }
        return (i - 1, n)
    }

    func run() throws {
        let threads = threadOptions.apply()
        let loaded = try ExperimentConfig.load(config)
        if let unknown = model.first(where: { !loaded.models.contains($0) }) {
            throw CommandError("\(config): has no model '\(unknown)' for --model (its models: \(loaded.models.joined(separator: ", ")))")
        }
        if let standInWindows, let samples = loaded.calibrations.map(\.samples).min(), standInWindows > samples {
            throw CommandError("\(config): --stand-in-windows \(standInWindows) is more than the \(samples) calibration windows of its prunes")
        }
        let ids = ExperimentGrid(loaded).cells.map(\.id)
        if let unknown = cell.first(where: { !ids.contains($0) }) {
            throw CommandError("\(config): has no cell '\(unknown)' for --cell (its cells: \(ids.joined(separator: ", ")))")
        }
        let runner = ExperimentRunner(config: loaded, results: URL(fileURLWithPath: results), work: work.map { URL(fileURLWithPath: $0) },
                                      executable: Self.executablePath, threads: threads, keepModels: keepModels,
                                      standInWindows: standInWindows, searchOnly: searchOnly)
        let summary = try runner.run(shard: try parsedShard(), models: model.isEmpty ? nil : model, ids: cell.isEmpty ? nil : cell) { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
        print("experiment \(loaded.name): \(summary.ran.count) \(searchOnly ? "searches" : "cells") run, \(summary.alreadyDone.count) done before, \(summary.busy.count) run elsewhere; results in \(results)")
        if outputOptions.json {
            JSONOutput.emit(["command": "experiment run", "config": config, "results": results, "ran": summary.ran,
                             "done_before": summary.alreadyDone, "busy": summary.busy, "threads": threads])
        }
    }

    /// This executable, which runs each step.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

struct ExperimentMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Joins the results folders of shards of one config into one folder (finished cells only; a cell in two folders is refused)."
    )

    @Argument(help: "Results folders of shards of one config.") var folders: [String]
    @Option(help: "The merged results folder (new, or a folder of the same config).") var results: String
    @OptionGroup var outputOptions: OutputOptions

    func run() throws {
        let summary = try ExperimentMerge.merge(folders.map { URL(fileURLWithPath: $0) }, into: URL(fileURLWithPath: results))
        print("merged \(summary.merged.count) cells into \(results) (\(summary.alreadyThere.count) there before; \(summary.unfinished.count) unfinished: "
              + "\(summary.unfinished.isEmpty ? "none" : summary.unfinished.joined(separator: ", ")))")
        if outputOptions.json {
            JSONOutput.emit(["command": "experiment merge", "folders": folders, "results": results, "merged": summary.merged,
                             "there_before": summary.alreadyThere, "unfinished": summary.unfinished])
        }
    }
}

struct ExperimentReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Renders an experiment's tables (perplexity, zero-shot, speed), plots and HTML report from its results folder.",
        discussion: "md and tex write one file holding every table; csv writes one file per table into the --output folder; svg one file per plot into it; html one self-contained page."
    )

    @Argument(help: "The results folder.") var results: String
    @Option(help: "md, tex, csv, svg or html.") var format: String
    @Option(help: "The file (md, tex, html) or folder (csv, svg) to write.") var output: String
    @Flag(help: "Add each zero-shot accuracy's standard error.") var standardErrors = false
    @Option(help: "Published numbers shown as reference rows where the model matches (default: the checkout's Baselines/published/numbers.yaml).")
    var published: String?
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard ["md", "tex", "csv", "svg", "html"].contains(format) else { throw ValidationError("--format must be md, tex, csv, svg or html, got '\(format)'") }
    }

    func run() throws {
        let loaded = try ExperimentResults.load(URL(fileURLWithPath: results))
        let numbers = try (published ?? PublishedNumbers.repositoryFile(above: ExperimentRun.executablePath)).map(PublishedNumbers.load)
        let tables = ExperimentTables(loaded, published: numbers).all(standardErrors: standardErrors)
        var written: [String] = []
        func files(_ items: [(title: String, text: String)], suffix: String) throws {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            for (i, item) in items.enumerated() {
                let path = (output as NSString).appendingPathComponent(String(format: "%02d-", i + 1) + slug(item.title) + suffix)
                try OutputFile(path).write(Data(item.text.utf8))
                written.append(path)
            }
        }
        switch format {
        case "csv": try files(tables.map { ($0.title, $0.csv) }, suffix: ".csv")
        case "svg": try files(ExperimentTables(loaded).plots().map { ($0.title, $0.svg) }, suffix: ".svg")
        case "html":
            try OutputFile(output).write(Data(ExperimentHTML.render(loaded, published: numbers, standardErrors: true).utf8))
            written.append(output)
        default:
            let text = tables.map { format == "md" ? $0.markdown : $0.latex }.joined(separator: "\n")
            try OutputFile(output).write(Data(text.utf8))
            written.append(output)
        }
        let missing = loaded.unfinished.isEmpty ? "" : "; \(loaded.unfinished.count) cells unfinished: \(loaded.unfinished.joined(separator: ", "))"
        let (count, noun) = format == "svg" ? (written.count, "plot") : (tables.count, "table")
        print("\(count) \(noun)\(count == 1 ? "" : "s") from \(loaded.cells.count) cells of \(loaded.config.name) into \(output)\(missing)")
        if outputOptions.json {
            JSONOutput.emit(["command": "experiment report", "results": results, "format": format, "files": written, "tables": tables.count,
                             "unfinished": loaded.unfinished])
        }
    }

    /// A title as a file name: lower-case letters, digits and dashes.
    private func slug(_ title: String) -> String {
        let mapped = title.lowercased().map { $0.isLetter && $0.isASCII || $0.isNumber ? $0 : "-" }
        return String(mapped).split(separator: "-").prefix(8).joined(separator: "-")
    }
}

struct ExperimentSlurm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Writes Slurm scripts for a config: a job array of shards, and a merge-and-report job that waits for them.",
        discussion: "Into RESULTS/slurm: array.sh, merge.sh, submit.sh (submits both), config.yaml (the config as submitted), logs/. Resources come from intraslice plan."
    )

    @Argument(help: "The config (YAML).") var config: String
    @Option(help: "The results folder (shards in RESULTS/shards/i, merged results in RESULTS/merged, reports beside them).") var results: String
    @Option(help: "Array tasks, one shard each.") var shards = 2
    @Option(help: "Slurm partition (default: the cluster's default).") var partition: String?
    @Flag(help: "Keep each cell's pruned model.") var keepModels = false
    @Flag(help: "Submit at once (runs submit.sh).") var submit = false
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard shards >= 1 else { throw ValidationError("--shards must be at least 1, got \(shards)") }
    }

    func run() throws {
        let threads = threadOptions.apply()
        let loaded = try ExperimentConfig.load(config)
        let results = URL(fileURLWithPath: self.results).standardizedFileURL
        let runner = ExperimentRunner(config: loaded, results: results, executable: ExperimentRun.executablePath, threads: threads, keepModels: keepModels)
        let written = try SlurmScripts(runner: runner, configFile: config, shards: shards, partition: partition)
            .write { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
        print("wrote \(written.folder.path)/{array.sh,merge.sh,submit.sh}: \(shards) shards, --mem=\(written.memoryMiB)M, --time=\(written.minutes) minutes each")
        var submitted: String?
        if submit {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = [written.submit.path]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw CommandError("\(written.submit.path): sbatch failed (exit status \(process.terminationStatus))") }
            print(text)
            submitted = text
        }
        if outputOptions.json {
            JSONOutput.emit(["command": "experiment slurm", "config": config, "results": results.path, "scripts": written.folder.path,
                             "shards": shards, "memory_mib": written.memoryMiB, "time_minutes": written.minutes, "submitted": submitted ?? NSNull()])
        }
    }
}
