import Foundation
import H5Store
import LinAlg
import ModelIO
import Pruning

/// Runs a config's grid (or one shard of it) into a results folder:
///
///     DIR/experiment.json          the config, as run (a different config is refused)
///     DIR/cells/<id>/steps/*.json  each finished step's result line (prune, ppl-i, zeroshot, latency-i)
///     DIR/cells/<id>/cell.json     the finished cell (`CellRecord`), written last
///
/// Every file is written atomically and each step is skipped when its file exists, so a
/// run killed at any moment (SIGKILL included) resumes where it stopped and never redoes a
/// finished cell; the step running when it was killed continues from its own saved state
/// (a prune's checkpoints). A cell is locked while it runs, so two runners on one folder
/// (two shards, or a second start by mistake) never run the same cell. A cell's pruned
/// model lives in the work folder until the cell is done; global allocations of one model,
/// seed and calibration share one gradient pass (`prune --importance`).
public struct ExperimentRunner {
    public let config: ExperimentConfig
    public let results: URL
    public let work: URL
    /// The `intraslice` executable the steps run.
    public let executable: String
    public let threads: Int
    public let keepModels: Bool

    public init(config: ExperimentConfig, results: URL, work: URL? = nil, executable: String, threads: Int, keepModels: Bool = false) {
        self.config = config
        self.results = results
        self.work = work ?? results.appendingPathComponent(".work")
        self.executable = executable
        self.threads = threads
        self.keepModels = keepModels
    }

    public struct Summary: Sendable {
        public let ran: [String]
        public let alreadyDone: [String]
        /// Cells another process held the lock of.
        public let busy: [String]
    }

    /// Runs every cell of shard `shard` (`(index, count)`; nil: the whole grid).
    public func run(shard: (index: Int, count: Int)? = nil, progress: @escaping (String) -> Void) throws -> Summary {
        try ExperimentIdentity(config).claim(results)
        let grid = ExperimentGrid(config)
        let cells = shard.map { grid.shard($0.index, of: $0.count) } ?? grid.cells
        var ran: [String] = [], done: [String] = [], busy: [String] = []
        for (n, cell) in cells.enumerated() {
            let folder = cellFolder(cell)
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("cell.json").path) {
                done.append(cell.id)
                continue
            }
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("steps"), withIntermediateDirectories: true)
            guard let lock = CellLock(folder.appendingPathComponent(".lock")) else {
                progress("[\(n + 1)/\(cells.count)] \(cell.id): run by another process; skipped")
                busy.append(cell.id)
                continue
            }
            defer { lock.release() }
            try runCell(cell, in: folder) { progress("[\(n + 1)/\(cells.count)] \(cell.id): \($0)") }
            ran.append(cell.id)
        }
        return Summary(ran: ran, alreadyDone: done, busy: busy)
    }

    func cellFolder(_ cell: ExperimentGrid.Cell) -> URL { results.appendingPathComponent("cells").appendingPathComponent(cell.id) }

    private func runCell(_ cell: ExperimentGrid.Cell, in folder: URL, progress: @escaping (String) -> Void) throws {
        let steps = CellSteps(folder: folder.appendingPathComponent("steps"), executable: executable, threads: threads, progress: progress)
        var model = cell.model
        var pruning: PruningMetadata?
        var search: EqualSpeedRecord?
        if let method = cell.method, let seed = cell.seed {
            let output: URL, ratio: Double
            if let target = cell.target {
                let record = try searchRatio(cell, method: method, seed: seed, target: target, steps: steps)
                search = record
                guard let found = record.ratio else {
                    progress("\(target.label) not reached at the largest ratio \(target.maxRatio) (\(String(format: "%.2f", record.probes[0].speedup))×)")
                    return try finish(cell, in: folder, pruning: nil, search: record, perplexity: [], zeroshot: nil, latency: [], progress: progress)
                }
                (output, ratio) = (work.appendingPathComponent(cell.id).appendingPathComponent("model"), found)
                try adoptProbe(of: cell, ratio: found, record: record, as: output, steps: steps)
            } else {
                (output, ratio) = (work.appendingPathComponent(cell.id), cell.ratio ?? 0)
            }
            pruning = try prune(cell, method, ratio: ratio, seed: seed, output: output, step: "prune", steps: steps)
            model = output.path
        }
        let evaluations = config.evaluations
        let perplexity = try (evaluations.perplexity ?? []).enumerated().map { i, entry in
            try JSONDecoder().decode(PerplexityRecord.self, from: steps.result("ppl-\(i)", "perplexity on \(entry.data) at L = \(entry.seqlen)",
                                                                                ["eval", "ppl", "--model", model, "--data", entry.data, "--seqlen", "\(entry.seqlen)",
                                                                                 "--threads", "\(threads)"] + (entry.windows.map { ["--windows", "\($0)"] } ?? [])))
        }
        let zeroshot = try evaluations.zeroshot.map { entry in
            try JSONDecoder().decode(ZeroShotRecord.self, from: steps.result("zeroshot", "zero-shot \(entry.tasks.joined(separator: ","))",
                                                                             ["eval", "zeroshot", "--model", model, "--tasks", entry.tasks.joined(separator: ","),
                                                                              "--threads", "\(threads)"] + (entry.limit.map { ["--limit", "\($0)"] } ?? [])))
        }
        // A pruned model is timed against the dense one in the same process (its speedup).
        let baseline = cell.method == nil ? nil : cell.model
        let latency = try (evaluations.latency ?? []).enumerated().map { i, entry in
            try LatencyRecord.decode(steps.result("latency-\(i)", "\(entry.kind.rawValue) \(entry.batch) × \(entry.length)",
                                                  latencyArguments(entry, model: model, baseline: baseline)), entry: entry)
        }
        try finish(cell, in: folder, pruning: pruning, search: search, perplexity: perplexity, zeroshot: zeroshot, latency: latency, progress: progress)
    }

    private func finish(_ cell: ExperimentGrid.Cell, in folder: URL, pruning: PruningMetadata?, search: EqualSpeedRecord?, perplexity: [PerplexityRecord],
                        zeroshot: ZeroShotRecord?, latency: [LatencyRecord], progress: (String) -> Void) throws {
        let record = CellRecord(id: cell.id, model: cell.model, method: cell.method, ratio: cell.ratio ?? search?.ratio, seed: cell.seed,
                                calibration: cell.calibration, pruning: pruning,
                                equalSpeed: search, perplexity: perplexity, zeroshot: zeroshot, latency: latency,
                                provenance: RunProvenance(harnessVersion: HarnessVersion.current, host: ProcessInfo.processInfo.hostName,
                                                          cpu: cpuModelName(), threads: threads,
                                                          finishedUTC: ISO8601DateFormatter().string(from: Date())))
        try OutputFile(folder.appendingPathComponent("cell.json").path).write(try Self.encoder.encode(record))
        if cell.method != nil && !keepModels { try? FileManager.default.removeItem(at: work.appendingPathComponent(cell.id)) }
        progress("done")
    }

    /// Prunes `cell`'s model at `ratio` into `output` as step `step`, once: the pruned folder
    /// appears whole or not at all, and while it exists the prune is done.
    private func prune(_ cell: ExperimentGrid.Cell, _ method: ExperimentConfig.MethodEntry, ratio: Double, seed: UInt64, output: URL, step: String,
                       steps: CellSteps) throws -> PruningMetadata {
        let importance = sharedImportance(cell, method: method, seed: seed)
        if !FileManager.default.fileExists(atPath: output.appendingPathComponent("pruning.json").path) {
            steps.forget(step)
            try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
        }
        _ = try steps.result(step, "prune \(method.label) at \(ratio)", pruneArguments(cell.model, method, ratio: ratio, calibration: cell.calibration ?? config.calibrations[0], seed: seed, output: output,
                                                                                       importance: importance.reuse))
        if let keep = importance.keep { try keepImportance(of: output, as: keep) }
        return try JSONDecoder().decode(PruningMetadata.self, from: Data(contentsOf: output.appendingPathComponent("pruning.json")))
    }

    /// The equal-speed search of one cell (`SpeedBisection`), one saved step per probe, then
    /// the whole search as step `search`. Only the best probe's pruned model is kept.
    private func searchRatio(_ cell: ExperimentGrid.Cell, method: ExperimentConfig.MethodEntry, seed: UInt64, target: ExperimentConfig.EqualSpeedEntry,
                             steps: CellSteps) throws -> EqualSpeedRecord {
        if let saved = steps.saved("search") { return try JSONDecoder().decode(EqualSpeedRecord.self, from: saved) }
        let bisection = SpeedBisection(target: target)
        var probes: [SpeedProbe] = []
        while let ratio = bisection.next(after: probes) {
            let name = "probe-\(probes.count)"
            if let saved = steps.saved(name) {
                probes.append(try JSONDecoder().decode(SpeedProbe.self, from: saved))
                continue
            }
            let output = probeFolder(cell, ratio: ratio)
            let pruning = try prune(cell, method, ratio: ratio, seed: seed, output: output, step: "\(name)-prune", steps: steps)
            steps.progress("\(name): timing \(target.kind.rawValue) \(target.batch) × \(target.length) at \(ratio) against the dense model")
            let timing = try LatencyRecord.decode(CommandStep(executable: executable, arguments: latencyArguments(target.shape, model: output.path, baseline: cell.model),
                                                              threads: threads).run(), entry: target.shape)
            let probe = SpeedProbe(ratio: ratio, decoderReduction: pruning.decoderReduction, denseSeconds: timing.baselineMedianSeconds ?? .nan,
                                   prunedSeconds: timing.medianSeconds, speedup: timing.speedup)
            try steps.save(name, try Self.encoder.encode(probe))
            steps.progress("\(name): \(String(format: "%.3f", probe.speedup))× at ratio \(ratio) (target \(target.speedup)×)")
            probes.append(probe)
            let best = bisection.found(probes)
            for other in probes where other.ratio != best { try? FileManager.default.removeItem(at: probeFolder(cell, ratio: other.ratio)) }
        }
        let record = EqualSpeedRecord(target: target, probes: probes)
        try steps.save("search", try Self.encoder.encode(record))
        return record
    }

    private func probeFolder(_ cell: ExperimentGrid.Cell, ratio: Double) -> URL {
        work.appendingPathComponent(cell.id).appendingPathComponent("probe-\(String(format: "%.3f", ratio))")
    }

    /// Moves the search's chosen probe model to the cell's model folder, with its prune step
    /// as the cell's; when it is gone (a run continued elsewhere) the cell prunes again.
    private func adoptProbe(of cell: ExperimentGrid.Cell, ratio: Double, record: EqualSpeedRecord, as output: URL, steps: CellSteps) throws {
        let probe = probeFolder(cell, ratio: ratio)
        guard !FileManager.default.fileExists(atPath: output.path), FileManager.default.fileExists(atPath: probe.appendingPathComponent("pruning.json").path),
              let index = record.probes.firstIndex(where: { $0.ratio == ratio }), let line = steps.saved("probe-\(index)-prune") else { return }
        try steps.save("prune", line)
        try FileManager.default.moveItem(at: probe, to: output)
    }

    /// The bench command timing `entry` on `model`: alone, or against `baseline` in alternation.
    func latencyArguments(_ entry: ExperimentConfig.LatencyEntry, model: String, baseline: String? = nil) -> [String] {
        let shape = ["--batch", "\(entry.batch)", "--threads", "\(threads)"]
        if let baseline {
            return ["bench", "speedup", "--model", model, "--baseline", baseline, "--kind", entry.kind.rawValue, "--length", "\(entry.length)"] + shape
        }
        return entry.kind == .prefill
            ? ["bench", "prefill", "--model", model, "--seqlen", "\(entry.length)"] + shape
            : ["bench", "decode", "--model", model, "--context", "\(entry.length)"] + shape
    }

    func pruneArguments(_ model: String, _ method: ExperimentConfig.MethodEntry, ratio: Double, calibration c: ExperimentConfig.CalibrationEntry,
                        seed: UInt64, output: URL, importance: URL?) -> [String] {
        var arguments = ["prune", "--model", model, "--method", method.method, "--ratio", "\(ratio)", "--ratio-kind", config.ratioKind.rawValue,
                         "--calibration", c.text, "--cal-samples", "\(c.samples)", "--cal-seqlen", "\(c.seqlen)", "--cal-sampling", c.sampling,
                         "--seed", "\(seed)", "--output", output.path, "--threads", "\(threads)"]
        if let allocation = method.allocation { arguments += ["--allocation", allocation.rawValue] }
        if method.sliceHead == true { arguments.append("--slice-head") }
        if method.mlpCompensation == false { arguments.append("--no-mlp-compensation") }
        if let importance { arguments += ["--importance", importance.path] }
        return arguments
    }

    /// For a globally allocated cell: an earlier cell's gradient sums it can spend (same
    /// model, calibration and seed; those of a global_pca run serve both allocations), and where to keep its own when it makes them.
    private func sharedImportance(_ cell: ExperimentGrid.Cell, method: ExperimentConfig.MethodEntry, seed: UInt64) -> (reuse: URL?, keep: URL?) {
        let allocation = method.allocation ?? PruningMethods.defaultAllocation(method.method, ratioKind: config.ratioKind)
        guard allocation != .uniform else { return (nil, nil) }
        let folder = work.appendingPathComponent(ExperimentGrid.folderName(cell.model))
        let name = "importance-\((cell.calibration ?? config.calibrations[0]).tag)-s\(seed)"
        let withPCA = folder.appendingPathComponent("\(name)-pca.h5"), plain = folder.appendingPathComponent("\(name).h5")
        let candidates = allocation == .globalPCA ? [withPCA] : [withPCA, plain]
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) { return (found, nil) }
        return (nil, allocation == .globalPCA ? withPCA : plain)
    }

    private func keepImportance(of pruned: URL, as destination: URL) throws {
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        try OutputFile(destination.path).write(Data(contentsOf: pruned.appendingPathComponent("importance.h5")))
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// A cell's saved steps (`cells/<id>/steps/<name>.json`): each step's result line is run
/// once and read back afterwards.
struct CellSteps {
    let folder: URL
    let executable: String
    let threads: Int
    let progress: (String) -> Void

    func file(_ name: String) -> URL { folder.appendingPathComponent("\(name).json") }
    func saved(_ name: String) -> Data? { try? Data(contentsOf: file(name)) }
    func save(_ name: String, _ data: Data) throws { try OutputFile(file(name).path).write(data) }
    func forget(_ name: String) { try? FileManager.default.removeItem(at: file(name)) }

    /// Step `name`'s result: saved, or the JSON line of `intraslice <arguments>`, then saved.
    func result(_ name: String, _ what: String, _ arguments: @autoclosure () throws -> [String]) throws -> Data {
        if let saved = saved(name) {
            progress("\(what): done before")
            return saved
        }
        progress(what)
        let line = try CommandStep(executable: executable, arguments: try arguments(), threads: threads).run()
        try save(name, line)
        return line
    }
}

/// The config a results folder belongs to (`experiment.json`).
struct ExperimentIdentity: Codable {
    let name: String
    let configSHA256: String
    let config: ExperimentConfig
    enum CodingKeys: String, CodingKey { case name, configSHA256 = "config_sha256", config }

    init(_ config: ExperimentConfig) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        name = config.name
        configSHA256 = SHA256.hex(of: (try? encoder.encode(config)) ?? Data())
        self.config = config
    }

    /// The identity `folder` holds (its `experiment.json`).
    static func read(_ folder: URL) throws -> ExperimentIdentity {
        let file = folder.appendingPathComponent("experiment.json")
        guard let data = try? Data(contentsOf: file) else { throw ConfigError(folder.path, "not an experiment results folder (no experiment.json)") }
        do { return try JSONDecoder().decode(ExperimentIdentity.self, from: data) } catch {
            throw ConfigError(file.path, "not an experiment record (\(describeDecodingFailure(error)))")
        }
    }

    /// Makes `results` this config's folder, or refuses one that holds another config's.
    func claim(_ results: URL) throws {
        let file = results.appendingPathComponent("experiment.json")
        if FileManager.default.fileExists(atPath: file.path) {
            let existing = try Self.read(results)
            guard existing.configSHA256 == configSHA256 else {
                throw ConfigError(results.path, "holds results of another config ('\(existing.name)', config SHA-256 \(existing.configSHA256.prefix(12))…); "
                                  + "give --results a new folder, or the config those results were made with")
            }
            return
        }
        try FileManager.default.createDirectory(at: results, withIntermediateDirectories: true)
        try OutputFile(file.path).write(try ExperimentRunner.encoder.encode(self))
    }
}

/// An exclusive, non-blocking `flock` on a cell's lock file, released when the process
/// ends however it ends.
final class CellLock {
    private let descriptor: Int32

    init?(_ file: URL) {
        let fd = open(file.path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        descriptor = fd
    }

    func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
