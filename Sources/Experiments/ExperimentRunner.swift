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

    private func runCell(_ cell: ExperimentGrid.Cell, in folder: URL, progress: (String) -> Void) throws {
        let steps = folder.appendingPathComponent("steps")
        func step(_ name: String, _ what: String, _ arguments: @autoclosure () throws -> [String]) throws -> Data {
            let file = steps.appendingPathComponent("\(name).json")
            if let saved = try? Data(contentsOf: file) {
                progress("\(what): done before")
                return saved
            }
            progress(what)
            let line = try CommandStep(executable: executable, arguments: try arguments(), threads: threads).run()
            try OutputFile(file.path).write(line)
            return line
        }

        var model = cell.model
        var pruning: PruningMetadata?
        if let method = cell.method, let ratio = cell.ratio, let seed = cell.seed {
            let output = work.appendingPathComponent(cell.id)
            let importance = sharedImportance(cell, method: method, seed: seed)
            // The pruned folder appears whole or not at all; while it exists the prune is done.
            if !FileManager.default.fileExists(atPath: output.appendingPathComponent("pruning.json").path) {
                try? FileManager.default.removeItem(at: steps.appendingPathComponent("prune.json"))
                try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
            }
            _ = try step("prune", "prune \(method.label) at \(ratio)", pruneArguments(cell.model, method, ratio: ratio, seed: seed, output: output,
                                                                                        importance: importance.reuse))
            pruning = try JSONDecoder().decode(PruningMetadata.self, from: Data(contentsOf: output.appendingPathComponent("pruning.json")))
            if let keep = importance.keep { try keepImportance(of: output, as: keep) }
            model = output.path
        }
        let evaluations = config.evaluations
        let perplexity = try (evaluations.perplexity ?? []).enumerated().map { i, entry in
            try JSONDecoder().decode(PerplexityRecord.self, from: step("ppl-\(i)", "perplexity on \(entry.data) at L = \(entry.seqlen)",
                                                                          ["eval", "ppl", "--model", model, "--data", entry.data, "--seqlen", "\(entry.seqlen)",
                                                                           "--threads", "\(threads)"] + (entry.windows.map { ["--windows", "\($0)"] } ?? [])))
        }
        let zeroshot = try evaluations.zeroshot.map { entry in
            try JSONDecoder().decode(ZeroShotRecord.self, from: step("zeroshot", "zero-shot \(entry.tasks.joined(separator: ","))",
                                                                       ["eval", "zeroshot", "--model", model, "--tasks", entry.tasks.joined(separator: ","),
                                                                        "--threads", "\(threads)"] + (entry.limit.map { ["--limit", "\($0)"] } ?? [])))
        }
        let latency = try (evaluations.latency ?? []).enumerated().map { i, entry in
            let arguments = entry.kind == .prefill
                ? ["bench", "prefill", "--model", model, "--batch", "\(entry.batch)", "--seqlen", "\(entry.length)", "--threads", "\(threads)"]
                : ["bench", "decode", "--model", model, "--batch", "\(entry.batch)", "--context", "\(entry.length)", "--threads", "\(threads)"]
            return try LatencyRecord.decode(step("latency-\(i)", "\(entry.kind.rawValue) \(entry.batch) × \(entry.length)", arguments), entry: entry)
        }
        let record = CellRecord(id: cell.id, model: cell.model, method: cell.method, ratio: cell.ratio, seed: cell.seed, pruning: pruning,
                                perplexity: perplexity, zeroshot: zeroshot, latency: latency,
                                provenance: RunProvenance(harnessVersion: HarnessVersion.current, host: ProcessInfo.processInfo.hostName,
                                                          cpu: cpuModelName(), threads: threads,
                                                          finishedUTC: ISO8601DateFormatter().string(from: Date())))
        try OutputFile(folder.appendingPathComponent("cell.json").path).write(try Self.encoder.encode(record))
        if cell.method != nil && !keepModels { try? FileManager.default.removeItem(at: work.appendingPathComponent(cell.id)) }
        progress("done")
    }

    func pruneArguments(_ model: String, _ method: ExperimentConfig.MethodEntry, ratio: Double, seed: UInt64, output: URL,
                                importance: URL?) -> [String] {
        let c = config.calibration
        var arguments = ["prune", "--model", model, "--method", method.method, "--ratio", "\(ratio)", "--ratio-kind", config.ratioKind.rawValue,
                         "--calibration", c.text, "--cal-samples", "\(c.samples)", "--cal-seqlen", "\(c.seqlen)", "--cal-sampling", c.sampling,
                         "--seed", "\(seed)", "--output", output.path, "--threads", "\(threads)"]
        if let allocation = method.allocation { arguments += ["--allocation", allocation.rawValue] }
        if method.sliceHead == true { arguments.append("--slice-head") }
        if method.mlpCompensation == false { arguments.append("--no-mlp-compensation") }
        if let importance { arguments += ["--importance", importance.path] }
        return arguments
    }

    /// For a globally allocated cell: an earlier cell's gradient sums it can spend (those of
    /// a global_pca run serve both allocations), and where to keep its own when it makes them.
    private func sharedImportance(_ cell: ExperimentGrid.Cell, method: ExperimentConfig.MethodEntry, seed: UInt64) -> (reuse: URL?, keep: URL?) {
        let allocation = method.allocation ?? PruningMethods.defaultAllocation(method.method, ratioKind: config.ratioKind)
        guard allocation != .uniform else { return (nil, nil) }
        let folder = work.appendingPathComponent(ExperimentGrid.folderName(cell.model))
        let withPCA = folder.appendingPathComponent("importance-s\(seed)-pca.h5"), plain = folder.appendingPathComponent("importance-s\(seed).h5")
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
