import ArgumentParser
import Datasets
import Foundation
import H5Store
import LinAlg
import Pruning
import Transformer

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prune a model with magnitude-sp, Wanda-sp, SliceGPT or IntraSlice and write a self-describing folder.",
        discussion: """
        The folder holds model.safetensors, config.json (with every layer's shape), pruning.json (method, ratio, \
        calibration, source model hash, parameter counts, timings) and statistics.h5 (per layer and site: eigenvalue \
        spectra, variance kept, chosen heads and channels, reconstruction errors). Every eval and bench command takes \
        the folder as --model.
        """
    )

    @Option(help: "Model: a registry name, a GGUF path or a checkpoint folder.") var model = "smollm2-135m"
    @Option(help: "Method: magnitude, wanda, slicegpt or intraslice.") var method: String
    @Option(help: "Ratio in [0, 0.95].") var ratio: Double
    @Option(help: "What the ratio fixes: slicing (the method's width fraction) or params (decoder-layer parameters removed).")
    var ratioKind = "slicing"
    @OptionGroup var calibration: CalibrationOptions
    @OptionGroup var allocation: AllocationOptions
    @Flag(help: "SliceGPT: also slice the LM head's input.") var sliceHead = false
    @Flag(help: "IntraSlice ablation: select MLP channels without least-squares compensation.") var noMLPCompensation = false
    @Flag(help: "Also keep in statistics.h5 the covariances E[x xᵀ] the method computed (float64 [W, W] per site; SliceGPT and IntraSlice; large).")
    var saveCovariances = false
    @Option(help: ArgumentHelp("A timing stand-in: the method measures on only the first N calibration windows (the allocation still spends all of them, or --importance), so the model has the full prune's shapes but not its weights.",
                               valueName: "N"))
    var standInWindows: Int?
    @Option(help: "The output folder.") var output: String
    @Flag(help: "Replace the output folder if it is one intraslice wrote (a pruned or exported model).") var overwrite = false
    @Option(help: "Save the run's state after a finished layer at most every this many seconds (0: after every layer), so that an interrupted prune resumes.")
    var checkpointInterval: Double = 30
    @Flag(help: "Neither save the run's state nor resume from a saved one.") var noCheckpoints = false
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var memoryOptions: MemoryOptions
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        guard checkpointInterval >= 0 && checkpointInterval.isFinite else {
            throw ValidationError("--checkpoint-interval must be a number of seconds >= 0, got \(checkpointInterval)")
        }
        guard PruningMethods.names.contains(method) else {
            throw ValidationError("--method must be one of \(PruningMethods.names.joined(separator: ", ")), got '\(method)'")
        }
        guard RatioKind(rawValue: ratioKind) != nil else { throw ValidationError("--ratio-kind must be slicing or params, got '\(ratioKind)'") }
        guard PruningRatio.allowed.contains(ratio) else {
            throw ValidationError("--ratio must be in [\(PruningRatio.allowed.lowerBound), \(PruningRatio.allowed.upperBound)], got \(ratio)")
        }
    }

    func run() throws {
        let destination = try OutputFolder(output, overwrite: overwrite)
        let threads = threadOptions.apply()
        let job = try makeJob()
        let (loaded, choice) = try memoryOptions.load(model, canStream: canStream) { Self.memory($0, job: job, threads: threads) }
        let hash = try loaded.checkpointSHA256()
        FileHandle.standardError.write(Data("\(loaded.name): loaded in \(String(format: "%.1f", loaded.loadSeconds)) s; \(method) at \(ratioKind) ratio \(ratio); \(threads) threads\n".utf8))
        let start = Date()
        let outcome = try job.run(consume loaded, sourceSHA256: hash, output: destination, spill: choice.spill) { line in
            FileHandle.standardError.write(Data("[\(String(format: "%6.1f", Date().timeIntervalSince(start))) s] \(line)\n".utf8))
        }
        if outputOptions.json {
            JSONOutput.emit(PruneResult(metadata: outcome.metadata, output: output, seconds: Date().timeIntervalSince(start),
                                        peakRSSBytes: peakResidentBytes()))
        }
    }
}

/// What `prune --json` prints: the folder's `pruning.json` with the command's own wall time
/// and peak memory (the whole process, hashing and loading included).
struct PruneResult: Encodable {
    let metadata: PruningMetadata
    let output: String
    let seconds: Double
    let peakRSSBytes: Int

    enum CodingKeys: String, CodingKey { case command, output, seconds, peakRSSBytes = "peak_rss_bytes" }

    func encode(to encoder: Encoder) throws {
        try metadata.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("prune", forKey: .command)
        try container.encode(output, forKey: .output)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(peakRSSBytes, forKey: .peakRSSBytes)
    }
}

extension Prune {
    /// The job these options describe (shared with `plan prune`).
    func makeJob() throws -> PruningJob {
        try PruningJob(method: method, ratio: try PruningRatio(ratio, kind: RatioKind(rawValue: ratioKind)!),
                       calibration: calibration.settings,
                       options: MethodOptions(sliceHead: sliceHead, mlpCompensation: !noMLPCompensation),
                       sequencesPerGroup: calibration.calBatch, checkpointInterval: noCheckpoints ? nil : checkpointInterval,
                       allocation: try allocation.settings(method: method, ratioKind: RatioKind(rawValue: ratioKind)!),
                       importanceSource: allocation.importance, savesCovariances: saveCovariances, standInWindows: standInWindows)
    }

    /// SliceGPT folds every layer's norms first, so it needs the model resident.
    var canStream: Bool { method != "slicegpt" }

    /// The memory a prune plans: the loaded layers stay while their pruned versions are
    /// made, and a streamed prune releases the embedding and head between the calibration
    /// embeddings and the write.
    static func memory(_ config: ModelConfig, job: PruningJob, threads: Int) -> RunMemory {
        RunMemory(footprint: ModelFootprint(config: config), workingBytes: job.workingBytes(config, threads: threads),
                  spillableBytes: job.spillableBytes(config), residentLayerCopies: 2, streamedKeepsVocabulary: false)
    }
}

/// Where calibration data comes from (`--calibration wiki|c4|FILE` and its window settings).
struct AllocationOptions: ParsableArguments {
    @Option(help: "How the ratio is spread over layers: uniform, global or global_pca (default: the method's published one, global for intraslice with --ratio-kind params, else uniform).")
    var allocation: String?
    @Option(help: "Global allocation: units each head's channels are scored in (the IntraSlice code's --global_frac).") var unitsPerHead = 1
    @Option(help: "Global allocation: share of the ratio the MLP neurons carry before attention takes the rest (--global_bias).") var mlpShare = 1.0
    @Option(help: "Global allocation: the largest ratio any layer's attention or MLP gets.") var allocationCap = 0.8
    @Option(help: "Global allocation: calibration sequences whose gradients are summed before squaring.") var allocationGroup = 8
    @Option(help: "Global allocation: spend the gradient sums of an earlier prune (its folder or importance.h5; same model and calibration) instead of running the gradient pass.")
    var importance: String?

    func validate() throws {
        if let allocation, Allocation(rawValue: allocation) == nil {
            throw ValidationError("--allocation must be one of \(Allocation.allCases.map(\.rawValue).joined(separator: ", ")), got '\(allocation)'")
        }
        guard unitsPerHead >= 1 else { throw ValidationError("--units-per-head must be at least 1, got \(unitsPerHead)") }
        guard mlpShare.isFinite, (0...1).contains(mlpShare) else { throw ValidationError("--mlp-share must be in [0, 1], got \(mlpShare)") }
        guard allocationCap.isFinite, allocationCap > 0, allocationCap < 1 else {
            throw ValidationError("--allocation-cap must be in (0, 1), got \(allocationCap)")
        }
        guard allocationGroup >= 1 else { throw ValidationError("--allocation-group must be at least 1, got \(allocationGroup)") }
    }

    /// The settings for `method`; without --allocation, the method's published default
    /// (`PruningMethods.defaultAllocation`).
    func settings(method: String, ratioKind: RatioKind) throws -> AllocationSettings {
        let chosen = allocation.flatMap(Allocation.init(rawValue:)) ?? PruningMethods.defaultAllocation(method, ratioKind: ratioKind)
        return AllocationSettings(allocation: chosen, groupSize: allocationGroup, unitsPerHead: unitsPerHead, mlpShare: mlpShare, cap: allocationCap)
    }
}

struct CalibrationOptions: ParsableArguments {
    @Option(help: "Calibration text: wiki (default), c4, another registry text, or a file path.") var calibration = "wiki"
    @Option(help: "Number of calibration windows.") var calSamples = 128
    @Option(help: "Tokens per calibration window.") var calSeqlen = 2048
    @Option(help: "random (seeded offsets) or sequential (the first N non-overlapping windows).") var calSampling = "random"
    @Option(help: "Seed of the random window offsets.") var seed: UInt64 = 0
    @Option(help: "Calibration windows per forward call.") var calBatch = 1
    @Flag(help: "Allow calibrating on the perplexity test text.") var forceTestCalibration = false

    func validate() throws {
        guard CalibrationSampling(rawValue: calSampling) != nil else {
            throw ValidationError("--cal-sampling must be random or sequential, got '\(calSampling)'")
        }
        guard calSamples >= 1, calSeqlen >= 2, calBatch >= 1 else {
            throw ValidationError("--cal-samples and --cal-batch must be at least 1 and --cal-seqlen at least 2")
        }
    }

    var settings: CalibrationSettings {
        CalibrationSettings(source: calibration, samples: calSamples, seqlen: calSeqlen, sampling: CalibrationSampling(rawValue: calSampling)!,
                            seed: seed, allowTestText: forceTestCalibration)
    }
}
