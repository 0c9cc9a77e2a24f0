import Foundation
import H5Store

/// What `experiment slurm` writes into `DIR/slurm/`: a job array with one task per shard
/// (each `experiment run --shard i/N` into `DIR/shards/i`), a merge-and-report job that
/// runs when every task has succeeded (`experiment merge` into `DIR/merged`, then the
/// Markdown, LaTeX and HTML reports beside it), and `submit.sh`, which submits both with
/// the dependency. The config is copied beside them, so editing it later does not change
/// queued work. Resources come from `intraslice plan`: memory is the largest planned
/// peak of any step, with a quarter and 1 GiB more; time is, for the longest shard, twice
/// its planned prunes and perplexity passes (each pruned cell's perplexity planned as the
/// dense model's, an upper bound), plus 30 minutes per cell for zero-shot and latency
/// steps (which `plan` does not cover), plus 10 minutes.
public struct SlurmScripts {
    public let runner: ExperimentRunner
    public let configFile: String
    public let shards: Int
    public let partition: String?

    public init(runner: ExperimentRunner, configFile: String, shards: Int, partition: String?) {
        self.runner = runner
        self.configFile = configFile
        self.shards = shards
        self.partition = partition
    }

    /// One planned step: seconds and peak bytes.
    public struct Estimate: Sendable { public let seconds: Double, peakBytes: Int }

    public struct Written: Sendable {
        public let folder: URL
        public let submit: URL
        public let memoryMiB: Int
        public let minutes: Int
    }

    /// Plans every step (through `intraslice plan`), then writes the scripts.
    public func write(progress: (String) -> Void) throws -> Written {
        let config = runner.config
        let grid = ExperimentGrid(config)
        var perplexity: [String: [Estimate]] = [:]
        for model in config.models {
            progress("planning perplexity on \(model)")
            perplexity[model] = try (config.evaluations.perplexity ?? []).map { entry in
                try plan(["plan", "eval", "ppl", "--model", model, "--data", entry.data, "--seqlen", "\(entry.seqlen)", "--threads", "\(runner.threads)"]
                         + (entry.windows.map { ["--windows", "\($0)"] } ?? []))
            }
        }
        var cellEstimates: [String: [Estimate]] = [:]
        // Each distinct prune is planned once (a plan measures the machine's rates for a few
        // seconds): cells differing only in their seed, or equal-speed targets sharing a largest ratio, plan alike.
        var planned: [[String]: Estimate] = [:]
        for cell in grid.cells {
            var estimates = perplexity[cell.model] ?? []
            if let method = cell.method {
                // An equal-speed search prunes up to steps + 1 times, each planned at its largest ratio.
                let (ratio, prunes) = cell.target.map { ($0.maxRatio, $0.steps + 1) } ?? (cell.ratio ?? 0, 1)
                let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("intraslice-plan-\(getpid())")
                let arguments = ["plan"] + runner.pruneArguments(cell.model, method, ratio: ratio, calibration: runner.calibration(of: cell), seed: 0,
                                                                 output: scratch, importance: nil)
                if planned[arguments] == nil {
                    progress("planning \(cell.id)")
                    planned[arguments] = try plan(arguments)
                }
                estimates += Array(repeating: planned[arguments]!, count: prunes)
            }
            cellEstimates[cell.id] = estimates
        }
        let otherSteps = (config.evaluations.zeroshot == nil ? 0 : 1) + (config.evaluations.latency?.isEmpty == false ? 1 : 0)
        let shardSeconds = (0..<shards).map { shard in
            grid.shard(shard, of: shards).reduce(0.0) { total, cell in
                total + 2 * (cellEstimates[cell.id] ?? []).reduce(0) { $0 + $1.seconds } + Double(otherSteps) * 1800
            }
        }
        let peak = cellEstimates.values.flatMap { $0 }.map(\.peakBytes).max() ?? 0
        let memoryMiB = (peak + peak / 4) / (1 << 20) + 1024
        let minutes = Int(((shardSeconds.max() ?? 0) / 60).rounded(.up)) + 10

        let folder = runner.results.appendingPathComponent("slurm")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("logs"), withIntermediateDirectories: true)
        let configCopy = folder.appendingPathComponent("config.yaml")
        try OutputFile(configCopy.path).write(Data(contentsOf: URL(fileURLWithPath: configFile)))
        let results = runner.results.path, exe = runner.executable, logs = folder.appendingPathComponent("logs").path
        let partitionLine = partition.map { "#SBATCH --partition=\($0)\n" } ?? ""
        let array = """
        #!/bin/bash
        # One task per shard of \(config.name): `experiment run --shard i/\(shards)`, resumable (a requeued or
        # rerun task continues where it stopped). Written by intraslice experiment slurm.
        #SBATCH --job-name=\(config.name)
        #SBATCH --array=1-\(shards)
        #SBATCH --nodes=1
        #SBATCH --ntasks=1
        #SBATCH --cpus-per-task=\(runner.threads)
        #SBATCH --mem=\(memoryMiB)M
        #SBATCH --time=\(minutes)
        #SBATCH --output=\(logs)/shard-%a.out
        #SBATCH --error=\(logs)/shard-%a.err
        \(partitionLine)set -euo pipefail
        exec '\(exe)' experiment run '\(configCopy.path)' --results '\(results)/shards/'"$SLURM_ARRAY_TASK_ID" \\
          --shard "$SLURM_ARRAY_TASK_ID/\(shards)" --threads \(runner.threads)\(runner.keepModels ? " --keep-models" : "")

        """
        let shardFolders = (1...shards).map { "'\(results)/shards/\($0)'" }.joined(separator: " ")
        let merge = """
        #!/bin/bash
        # Merges the shards of \(config.name) and renders its reports; runs after every array task succeeded.
        #SBATCH --job-name=\(config.name)-merge
        #SBATCH --nodes=1
        #SBATCH --ntasks=1
        #SBATCH --cpus-per-task=1
        #SBATCH --mem=1024M
        #SBATCH --time=30
        #SBATCH --output=\(logs)/merge.out
        #SBATCH --error=\(logs)/merge.err
        \(partitionLine)set -euo pipefail
        '\(exe)' experiment merge \(shardFolders) --results '\(results)/merged'
        '\(exe)' experiment report '\(results)/merged' --format md --output '\(results)/report.md'
        '\(exe)' experiment report '\(results)/merged' --format tex --output '\(results)/report.tex'
        '\(exe)' experiment report '\(results)/merged' --format html --output '\(results)/report.html'

        """
        let submit = """
        #!/bin/bash
        # Submits the shard array, then the merge-and-report job once every shard succeeded.
        set -euo pipefail
        array=$(sbatch --parsable '\(folder.appendingPathComponent("array.sh").path)')
        merge=$(sbatch --parsable --dependency=afterok:"${array%%;*}" '\(folder.appendingPathComponent("merge.sh").path)')
        echo "array job ${array%%;*}, merge job ${merge%%;*}"

        """
        for (name, text) in [("array.sh", array), ("merge.sh", merge), ("submit.sh", submit)] {
            let path = folder.appendingPathComponent(name).path
            try OutputFile(path).write(Data(text.utf8))
            chmod(path, 0o755)
        }
        return Written(folder: folder, submit: folder.appendingPathComponent("submit.sh"), memoryMiB: memoryMiB, minutes: minutes)
    }

    private func plan(_ arguments: [String]) throws -> Estimate {
        struct Plan: Decodable {
            let seconds: Double
            let peak_memory_bytes: Int
        }
        let line = try CommandStep(executable: runner.executable, arguments: arguments, threads: runner.threads).run()
        let plan = try JSONDecoder().decode(Plan.self, from: line)
        return Estimate(seconds: plan.seconds, peakBytes: plan.peak_memory_bytes)
    }
}
