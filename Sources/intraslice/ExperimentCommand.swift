import ArgumentParser
import Experiments
import Foundation

struct Experiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Studies from a YAML config (Experiments/*.yaml): a grid of models × methods × ratios × seeds, pruned and evaluated.",
        subcommands: [ExperimentRun.self, ExperimentMergeCommand.self]
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
    @Option(help: "Where pruned models live until their cell is done (default: RESULTS/.work).") var work: String?
    @Flag(help: "Keep each cell's pruned model in the work folder.") var keepModels = false
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws { _ = try parsedShard() }

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
        let runner = ExperimentRunner(config: loaded, results: URL(fileURLWithPath: results), work: work.map { URL(fileURLWithPath: $0) },
                                      executable: Self.executablePath, threads: threads, keepModels: keepModels)
        let summary = try runner.run(shard: try parsedShard()) { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
        print("experiment \(loaded.name): \(summary.ran.count) cells run, \(summary.alreadyDone.count) done before, \(summary.busy.count) run elsewhere; results in \(results)")
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
