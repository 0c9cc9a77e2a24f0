import Foundation
import H5Store
import LinAlg
import ModelIO
import Pruning

/// Runs a config's grid (or one shard of it) into a results folder:
///
///     DIR/experiment.json          the config, as run (a different config is refused)
///     DIR/cells/<id>/steps/*.json  each finished step's result line (prune, ppl-i, zeroshot, latency-i)
///     DIR/cells/<id>/steps/*.h5    the evaluations' per-window and per-document data (ppl-i, zeroshot)
///     DIR/cells/<id>/cell.json     the finished cell (`CellRecord`), written last
///
/// Every file is written atomically and each step is skipped when its file exists, so a
/// run killed at any moment (SIGKILL included) resumes where it stopped and never redoes a
/// finished cell; the step running when it was killed continues from its own saved state
/// (a prune's checkpoints). A cell is locked while it runs, so two runners on one folder
/// (two shards, or a second start by mistake) never run the same cell. A cell's pruned
/// model lives in the work folder (`PrunedModelStore`) until the cell is done, and longer
/// with `keepModels`; cells that prune alike share it, and global allocations of one model,
/// seed and calibration share one gradient pass (`prune --importance`).
public struct ExperimentRunner {
    public let config: ExperimentConfig
    public let results: URL
    public let work: URL
    /// The `intraslice` executable the steps run.
    public let executable: String
    public let threads: Int
    public let keepModels: Bool
    /// Equal-speed probes time stand-ins (`prune --stand-in-windows`) whose methods measure
    /// on this many calibration windows; the prune at the ratio found is checked to have
    /// the stand-in's shapes. nil: probes are full prunes.
    public let standInWindows: Int?
    /// Only the equal-speed searches (the timed part), not the prune at the ratio found
    /// nor the evaluations: every search of a table can be timed on one machine and the
    /// rest of each cell run later, anywhere.
    public let searchOnly: Bool
    let store: PrunedModelStore

    public init(config: ExperimentConfig, results: URL, work: URL? = nil, executable: String, threads: Int, keepModels: Bool = false,
                standInWindows: Int? = nil, searchOnly: Bool = false) {
        self.config = config
        self.results = results
        self.work = work ?? results.appendingPathComponent(".work")
        self.executable = executable
        self.threads = threads
        self.keepModels = keepModels
        self.standInWindows = standInWindows
        self.searchOnly = searchOnly
        store = PrunedModelStore(root: self.work)
    }

    public struct Summary: Sendable {
        public let ran: [String]
        public let alreadyDone: [String]
        /// Cells another process held the lock of.
        public let busy: [String]
    }

    /// Runs every cell of shard `shard` (`(index, count)`; nil: the whole grid), only those
    /// of `models` when it is given (a model's share of a long grid, e.g. to finish one
    /// model's tables before the next starts) and only those whose id is in `ids` when it is
    /// given (e.g. every timed search of one kind on one machine).
    public func run(shard: (index: Int, count: Int)? = nil, models: [String]? = nil, ids: [String]? = nil,
                    progress: @escaping (String) -> Void) throws -> Summary {
        try ExperimentIdentity(config).claim(results)
        let grid = ExperimentGrid(config)
        let cells = (shard.map { grid.shard($0.index, of: $0.count) } ?? grid.cells)
            .filter { (models?.contains($0.model) ?? true) && (ids?.contains($0.id) ?? true) && (!searchOnly || $0.target != nil) }
        var ran: [String] = [], done: [String] = [], busy: [String] = []
        for (n, cell) in cells.enumerated() {
            let folder = cellFolder(cell)
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("cell.json").path) {
                done.append(cell.id)
                continue
            }
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("steps"), withIntermediateDirectories: true)
            guard let lock = FileLock(folder.appendingPathComponent(".lock")) else {
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
        let held = HeldModels()
        defer { held.releaseAll(delete: false) }
        var model = cell.model
        var pruning: PruningMetadata?
        var search: EqualSpeedRecord?
        if let method = cell.method, let seed = cell.seed {
            var ratio = cell.ratio ?? 0
            if let target = cell.target {
                let record = try searchRatio(cell, method: method, seed: seed, target: target, steps: steps, held: held)
                search = record
                guard let found = record.ratio else {
                    progress("\(target.label) not reached at the largest ratio \(target.maxRatio) (\(String(format: "%.2f", record.probes[0].speedup))×)")
                    return try finish(cell, in: folder, pruning: nil, search: record, perplexity: [], zeroshot: nil, latency: [], held: held, progress: progress)
                }
                if searchOnly { return progress("searched: \(found) (the prune there and the evaluations are left for a run without --search-only)") }
                ratio = found
            }
            let output: URL
            (pruning, output) = try prune(cell, method, ratio: ratio, seed: seed, step: "prune", steps: steps, held: held)
            if let chosen = search?.chosen, chosen.standInWindows != nil {
                try checkShapes(of: output, against: chosen, steps: steps)
            }
            model = output.path
        }
        let evaluations = config.evaluations
        let perplexity = try (evaluations.perplexity ?? []).enumerated().map { i, entry in
            try JSONDecoder().decode(PerplexityRecord.self, from: steps.result("ppl-\(i)", "perplexity on \(entry.data) at L = \(entry.seqlen)",
                                                                                ["eval", "ppl", "--model", model, "--data", entry.data, "--seqlen", "\(entry.seqlen)",
                                                                                 "--output", steps.dataFile("ppl-\(i)").path, "--threads", "\(threads)"] + (entry.windows.map { ["--windows", "\($0)"] } ?? [])))
        }
        let zeroshot = try evaluations.zeroshot.map { entry in
            try JSONDecoder().decode(ZeroShotRecord.self, from: steps.result("zeroshot", "zero-shot \(entry.tasks.joined(separator: ","))",
                                                                             ["eval", "zeroshot", "--model", model, "--tasks", entry.tasks.joined(separator: ","),
                                                                              "--output", steps.dataFile("zeroshot").path, "--threads", "\(threads)"] + (entry.limit.map { ["--limit", "\($0)"] } ?? [])))
        }
        // A pruned model is timed against the dense one in the same process (its speedup).
        let baseline = cell.method == nil ? nil : cell.model
        let latency = try (evaluations.latency ?? []).enumerated().map { i, entry in
            try LatencyRecord.decode(steps.result("latency-\(i)", "\(entry.kind.rawValue) \(entry.batch) × \(entry.length)",
                                                  latencyArguments(entry, model: model, baseline: baseline)), entry: entry)
        }
        try finish(cell, in: folder, pruning: pruning, search: search, perplexity: perplexity, zeroshot: zeroshot, latency: latency, held: held, progress: progress)
    }

    private func finish(_ cell: ExperimentGrid.Cell, in folder: URL, pruning: PruningMetadata?, search: EqualSpeedRecord?, perplexity: [PerplexityRecord],
                        zeroshot: ZeroShotRecord?, latency: [LatencyRecord], held: HeldModels, progress: (String) -> Void) throws {
        let record = CellRecord(id: cell.id, model: cell.model, method: cell.method, ratio: cell.ratio ?? search?.ratio, seed: cell.seed,
                                calibration: cell.calibration, pruning: pruning,
                                equalSpeed: search, perplexity: perplexity, zeroshot: zeroshot, latency: latency,
                                provenance: RunProvenance(harnessVersion: HarnessVersion.current, host: ProcessInfo.processInfo.hostName,
                                                          cpu: cpuModelName(), threads: threads,
                                                          finishedUTC: ISO8601DateFormatter().string(from: Date())))
        try OutputFile(folder.appendingPathComponent("cell.json").path).write(try Self.encoder.encode(record))
        held.releaseAll(delete: !keepModels)
        progress("done")
    }

    /// `cell`'s model pruned at `ratio`, with its metadata, the prune's result line saved as
    /// step `step`: found in the store (pruned before, by this cell or another) or pruned
    /// into it now, and held until the cell lets it go. The store entry is locked while it
    /// is made, so two runners needing one prune run it once.
    private func prune(_ cell: ExperimentGrid.Cell, _ method: ExperimentConfig.MethodEntry, ratio: Double, seed: UInt64, step: String,
                       steps: CellSteps, held: HeldModels, standIn: Int? = nil) throws -> (PruningMetadata, URL) {
        let entry = storeEntry(cell, method, ratio: ratio, seed: seed, standIn: standIn)
        let what = (standIn == nil ? "prune" : "stand-in (\(standIn!) windows) of") + " \(method.label) at \(ratio)"
        var prunedNow = false
        while !held.holds(entry) {
            try FileManager.default.createDirectory(at: entry.folder.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard let lock = FileLock(entry.lockFile, wait: true) else { throw ConfigError(entry.lockFile.path, "cannot be opened to lock it") }
            var line = entry.line
            // A whole model whose line is missing: this cell's prune, killed before the line was stored; otherwise pruned again.
            if line == nil, FileManager.default.fileExists(atPath: entry.folder.appendingPathComponent("pruning.json").path) {
                line = steps.saved(step)
                if let line { try OutputFile(entry.lineFile.path).write(line) } else { try FileManager.default.removeItem(at: entry.folder) }
            }
            if line == nil {
                steps.forget(step)
                let importance = sharedImportance(cell, method: method, seed: seed)
                let made = try steps.result(step, what, pruneArguments(cell.model, method, ratio: ratio, calibration: calibration(of: cell), seed: seed,
                                                                       output: entry.folder, importance: importance.reuse, standIn: standIn))
                if let keep = importance.keep { try keepImportance(of: entry.folder, as: keep) }
                try OutputFile(entry.lineFile.path).write(made)
                prunedNow = true
            }
            lock.share()
            // Sharing is not atomic: a runner deleting the entry may have come between.
            if entry.line != nil { held.add(entry, lock) } else { lock.release() }
        }
        if !prunedNow, let line = entry.line {
            if steps.saved(step) == line {
                steps.progress("\(what): done before")
            } else {
                steps.progress("\(what): pruned before (\(entry.folder.path))")
                try steps.save(step, line)
            }
        }
        return (try JSONDecoder().decode(PruningMetadata.self, from: Data(contentsOf: entry.folder.appendingPathComponent("pruning.json"))), entry.folder)
    }

    /// The prune at the ratio a search found has the tensor shapes of the stand-in that was
    /// timed there, or the speedup recorded is not its own.
    private func checkShapes(of model: URL, against probe: SpeedProbe, steps: CellSteps) throws {
        guard let timed = probe.shapesSHA256 else { throw ConfigError(steps.folder.path, "the stand-in probe at \(probe.ratio) has no shapes recorded") }
        guard try ModelShapes.sha256(of: model) == timed else {
            throw ConfigError(model.path, "its tensor shapes differ from those of the stand-in timed at ratio \(probe.ratio); "
                              + "its speedup is unmeasured: run the search again without --stand-in-windows")
        }
        steps.progress("the prune at \(probe.ratio) has the shapes of the stand-in timed there")
    }

    /// The calibration setting `cell` is pruned with.
    func calibration(of cell: ExperimentGrid.Cell) -> ExperimentConfig.CalibrationEntry { cell.calibration ?? config.calibrations[0] }

    private func storeEntry(_ cell: ExperimentGrid.Cell, _ method: ExperimentConfig.MethodEntry, ratio: Double, seed: UInt64,
                            standIn: Int? = nil) -> PrunedModelStore.Entry {
        store.entry(model: cell.model, method: method, ratioKind: config.ratioKind.rawValue, ratio: ratio, calibration: calibration(of: cell), seed: seed,
                    standIn: standIn)
    }

    /// The equal-speed search of one cell (`SpeedBisection`), one saved step per probe, then
    /// the whole search as step `search`. Probe models other than the best one are let go
    /// (and deleted, unless models are kept) as soon as a better one is found.
    private func searchRatio(_ cell: ExperimentGrid.Cell, method: ExperimentConfig.MethodEntry, seed: UInt64, target: ExperimentConfig.EqualSpeedEntry,
                             steps: CellSteps, held: HeldModels) throws -> EqualSpeedRecord {
        if let saved = steps.saved("search") { return try JSONDecoder().decode(EqualSpeedRecord.self, from: saved) }
        let bisection = SpeedBisection(target: target)
        var probes: [SpeedProbe] = []
        while let ratio = bisection.next(after: probes) {
            let name = "probe-\(probes.count)"
            if let saved = steps.saved(name) {
                probes.append(try JSONDecoder().decode(SpeedProbe.self, from: saved))
                continue
            }
            // A stand-in where it is cheaper than the prune and no full prune at this ratio is stored already.
            let standIn = standInWindows.flatMap { windows in
                PruningMethods.hasStandIn(method.method) && storeEntry(cell, method, ratio: ratio, seed: seed).line == nil ? windows : nil
            }
            let (pruning, output) = try prune(cell, method, ratio: ratio, seed: seed, step: "\(name)-prune", steps: steps, held: held, standIn: standIn)
            steps.progress("\(name): timing \(target.kind.rawValue) \(target.batch) × \(target.length) at \(ratio) against the dense model")
            let timing = try LatencyRecord.decode(CommandStep(executable: executable, arguments: latencyArguments(target.shape, model: output.path, baseline: cell.model),
                                                              threads: threads).run(), entry: target.shape)
            let probe = SpeedProbe(ratio: ratio, decoderReduction: pruning.decoderReduction, denseSeconds: timing.baselineMedianSeconds ?? .nan,
                                   prunedSeconds: timing.medianSeconds, speedup: timing.speedup, standInWindows: pruning.standInWindows,
                                   shapesSHA256: try ModelShapes.sha256(of: output))
            try steps.save(name, try Self.encoder.encode(probe))
            steps.progress("\(name): \(String(format: "%.3f", probe.speedup))× at ratio \(ratio) (target \(target.speedup)×)")
            probes.append(probe)
            let best = bisection.found(probes)
            for other in probes where other.ratio != best {
                held.release(storeEntry(cell, method, ratio: other.ratio, seed: seed, standIn: other.standInWindows), delete: !keepModels)
            }
        }
        let record = EqualSpeedRecord(target: target, probes: probes)
        try steps.save("search", try Self.encoder.encode(record))
        return record
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
                        seed: UInt64, output: URL, importance: URL?, standIn: Int? = nil) -> [String] {
        var arguments = ["prune", "--model", model, "--method", method.method, "--ratio", "\(ratio)", "--ratio-kind", config.ratioKind.rawValue,
                         "--calibration", c.text, "--cal-samples", "\(c.samples)", "--cal-seqlen", "\(c.seqlen)", "--cal-sampling", c.sampling,
                         "--seed", "\(seed)", "--output", output.path, "--threads", "\(threads)"]
        if let allocation = method.allocation { arguments += ["--allocation", allocation.rawValue] }
        if method.sliceHead == true { arguments.append("--slice-head") }
        if method.mlpCompensation == false { arguments.append("--no-mlp-compensation") }
        if let importance { arguments += ["--importance", importance.path] }
        if let standIn { arguments += ["--stand-in-windows", "\(standIn)"] }
        return arguments
    }

    /// For a globally allocated cell: an earlier cell's gradient sums it can spend (same
    /// model, calibration and seed; those of a global_pca run serve both allocations), and where to keep its own when it makes them.
    private func sharedImportance(_ cell: ExperimentGrid.Cell, method: ExperimentConfig.MethodEntry, seed: UInt64) -> (reuse: URL?, keep: URL?) {
        let allocation = method.allocation ?? PruningMethods.defaultAllocation(method.method, ratioKind: config.ratioKind)
        guard allocation != .uniform else { return (nil, nil) }
        let folder = work.appendingPathComponent(ExperimentGrid.folderName(cell.model))
        // The model's full name is hashed in: two models whose folders share a name, run with one --work, never share sums.
        let name = "importance-\(calibration(of: cell).tag)-s\(seed)-\(SHA256.hex(of: Data(cell.model.utf8)).prefix(8))"
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
    /// Step `name`'s per-unit data (`eval --output`: per-window NLL, per-document
    /// predictions), kept beside its result line; its resume log makes a killed
    /// evaluation continue from its last finished window or document.
    func dataFile(_ name: String) -> URL { folder.appendingPathComponent("\(name).h5") }
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
