import Datasets
import Foundation
import H5Store
import LinAlg
import ModelIO
import Transformer

/// One `intraslice prune` run: calibrate, prune, count, and write a self-describing folder
/// (`model.safetensors`, `config.json` with per-layer shapes, `pruning.json` with how it
/// was made, `statistics.h5` with what the method measured). The folder is assembled by
/// `OutputFolder` (which the caller checks before loading the model): under a temporary
/// name beside the destination, renamed into place only when complete.
public struct PruningJob {
    public let method: PruningMethod
    public let methodOptions: MethodOptions
    public let ratio: PruningRatio
    public let calibration: CalibrationSettings?
    public let sequencesPerGroup: Int
    /// Seconds between saved states of a running prune (nil: none are saved).
    public let checkpointInterval: Double?
    /// How the ratio is spread over layers and modules.
    public let allocation: AllocationSettings
    /// An earlier prune's `importance.h5` (or its folder) to allocate from instead of
    /// running the gradient pass again.
    public let importanceSource: String?
    /// Whether `statistics.h5` also keeps the covariances the method computed.
    public let savesCovariances: Bool
    /// A timing stand-in: the method measures its statistics on only the first this many
    /// calibration windows, while the allocation spends all of them (or their saved sums).
    /// Its shapes are those of the full prune at this ratio, for a fraction of the time;
    /// its weights are not (equal-speed probes time it instead of the full prune).
    public let standInWindows: Int?

    /// `allocation` nil: the method's published default (`PruningMethods.defaultAllocation`).
    public init(method: String, ratio: PruningRatio, calibration: CalibrationSettings?, options: MethodOptions = MethodOptions(),
                sequencesPerGroup: Int = 1, checkpointInterval: Double? = nil, allocation: AllocationSettings? = nil,
                importanceSource: String? = nil, savesCovariances: Bool = false, standInWindows: Int? = nil) throws {
        self.method = try PruningMethods.make(method, options: options)
        methodOptions = options
        self.ratio = ratio
        self.allocation = allocation ?? AllocationSettings(allocation: PruningMethods.defaultAllocation(method, ratioKind: ratio.kind))
        if self.allocation.allocation != .uniform {
            guard PruningMethods.allocatable.contains(method) else {
                throw PruningError("--allocation \(self.allocation.allocation.rawValue) applies to \(PruningMethods.allocatable.joined(separator: ", ")); "
                                   + "\(method) prunes every layer alike")
            }
            guard ratio.kind == .params else {
                throw PruningError("--allocation \(self.allocation.allocation.rawValue) spends a parameter budget: use --ratio-kind params")
            }
        }
        if importanceSource != nil && self.allocation.allocation == .uniform {
            throw PruningError("--importance feeds a global allocation; the uniform allocation has no importances to reuse")
        }
        self.importanceSource = importanceSource
        self.savesCovariances = savesCovariances
        self.calibration = self.method.needsCalibration || self.allocation.allocation != .uniform ? calibration ?? CalibrationSettings() : nil
        self.sequencesPerGroup = sequencesPerGroup
        self.checkpointInterval = checkpointInterval
        if let standInWindows {
            guard self.method.needsCalibration, let samples = self.calibration?.samples else {
                throw PruningError("--stand-in-windows: \(method) measures nothing on calibration windows, so its stand-in would be the prune itself")
            }
            guard self.method.shapesFollowRatio else {
                throw PruningError("--stand-in-windows: \(method) chooses part of its structure (which heads, and so how many KV groups, stay) "
                                   + "from the calibration windows, so a stand-in would not have the prune's shapes")
            }
            guard (1...samples).contains(standInWindows) else {
                throw PruningError("--stand-in-windows must be between 1 and the \(samples) calibration windows, got \(standInWindows)")
            }
        }
        self.standInWindows = standInWindows
    }

    public struct Outcome {
        public let model: TransformerModel
        public let before: ParameterCounts
        public let after: ParameterCounts
        public let statistics: PruningStatistics
        /// What `pruning.json` holds (timings and peak memory included).
        public let metadata: PruningMetadata
    }

    /// Prunes `source` (whose checkpoint hash is `sourceSHA256`) and writes the folder. It
    /// takes the caller's model: a streamed prune holds the embedding and head only while it
    /// embeds the calibration windows and while it writes (`LayerStreaming`). With `spill`,
    /// the calibration activations are kept in unnamed files beside the output.
    public func run(_ source: consuming LoadedModel, sourceSHA256: String, output: OutputFolder, spill: Bool = false,
                    progress: @escaping (String) -> Void) throws -> Outcome {
        var model = source.model
        let before = source.parameterCounts
        let loaded = (consume source).releasingStreamedVocabulary
        try method.check(ArchitectureAdapter(model))
        if let calibration { try model.checkContext(calibration.seqlen, "the calibration window length") }

        var timings: [String: Double] = ["load_s": loaded.loadSeconds]
        var start = monotonicSeconds()
        let calibrationSet = try calibration.map { try CalibrationSet($0, tokenizer: loaded.tokenizer) }
        timings["calibration_tokenize_s"] = monotonicSeconds() - start
        // A mismatched --importance is refused before anything is written.
        let reused = try calibrationSet.flatMap { try reusedImportance(identity: importanceIdentity(sourceSHA256: sourceSHA256, calibration: $0)) }
        if let calibrationSet {
            progress("calibration: \(calibrationSet.windows.count) \(calibrationSet.settings.sampling.rawValue) windows of "
                     + "\(calibrationSet.settings.seqlen) tokens from \(calibrationSet.corpus) (\(calibrationSet.tokenCount) tokens)")
        }
        let methodCalibration = standInWindows.flatMap { calibrationSet?.first($0) } ?? calibrationSet
        if let standInWindows {
            progress("stand-in: \(method.name) measures on the first \(standInWindows) windows only; the shapes are the full prune's, the weights are not")
        }

        if loaded.streamedLayers != nil, method is SliceGPT {
            throw PruningError("slicegpt folds every layer's norms into its neighbours before it prunes the first one, so it needs the "
                               + "model resident: raise --memory-budget")
        }
        let checkpoints = checkpointInterval.map {
            PruneCheckpoints(folder: Self.checkpointFolder(of: output),
                             key: checkpointKey(sourceSHA256: sourceSHA256, calibration: calibrationSet, streamed: loaded.streamedLayers != nil),
                             minimumInterval: $0)
        }
        let resumedFrom = checkpoints?.savedNextLayer
        let spillArea = spill && calibrationSet != nil
            ? SpillArea(folder: Self.destination(of: output).deletingLastPathComponent()) : nil
        if let spillArea { progress("calibration activations are kept in unnamed temporary files in \(spillArea.folder.path)") }
        let outcome = try output.assemble { path -> Outcome in
            let writer = try HFCheckpointWriter(folder: path, family: model.architecture, metadata: ["intraslice_method": method.name])
            let streaming = loaded.streamedLayers.map { LayerStreaming(source: $0) { _, layer in try writer.add(layer: layer) } }
            start = monotonicSeconds()
            let allocated = try allocate(model, calibration: calibrationSet, sourceSHA256: sourceSHA256, reused: reused, layers: loaded.streamedLayers,
                                         decoderParameters: before.decoderLayers, checkpoints: checkpoints, progress: progress)
            try allocated?.estimate.write(into: path, allocation: allocation.allocation)
            if allocated != nil { timings["allocation_s"] = monotonicSeconds() - start }
            start = monotonicSeconds()
            var statistics = try method.prune(&model, context: PruningContext(ratio: ratio, calibration: methodCalibration,
                                                                              sequencesPerGroup: sequencesPerGroup, checkpoints: checkpoints,
                                                                              streaming: streaming, spill: spillArea, allocation: allocated?.ratios,
                                                                              savesCovariances: savesCovariances, progress: progress))
            timings["prune_s"] = monotonicSeconds() - start
            allocated?.record(into: &statistics)
            try streaming?.restoreVocabulary(into: &model)
            let after = streaming.map { Self.counts(outside: model.parameterCounts, layers: $0.finishedCounts) } ?? model.parameterCounts

            var metadata = PruningMetadata(
                harnessVersion: HarnessVersion.current, createdUTC: ISO8601DateFormatter().string(from: Date()), method: method.name,
                ratio: ratio.value, ratioKind: ratio.kind.rawValue,
                options: .init(sliceHead: methodOptions.sliceHead, mlpCompensation: methodOptions.mlpCompensation),
                sourceModel: .init(name: loaded.name, path: loaded.path, sha256: sourceSHA256),
                parametersBefore: .init(before), parametersAfter: .init(after),
                decoderReduction: 1 - Double(after.decoderLayers) / Double(before.decoderLayers), blasThreads: BLASThreads.count,
                residency: loaded.streamedLayers == nil ? "resident" : "streamed", resumedFromLayer: resumedFrom,
                calibrationSpilled: spillArea != nil ? true : nil, standInWindows: standInWindows,
                calibration: calibrationSet.map { .init($0, sequencesPerGroup: sequencesPerGroup) },
                allocation: .init(settings: allocation, attentionRatios: allocated?.ratios.map(\.attention) ?? Array(repeating: ratio.value, count: model.layers.count),
                                  mlpRatios: allocated?.ratios.map(\.mlp) ?? Array(repeating: ratio.value, count: model.layers.count),
                                  calibrationLoss: allocated?.importance.loss, importanceFrom: allocated?.reusedFrom),
                timings: timings, peakRSSBytes: 0)
            start = monotonicSeconds()
            try writer.finish(model, derivedFrom: loaded)
            try writeRecords(to: path, loaded: loaded, sourceSHA256: sourceSHA256, statistics: statistics, metadata: &metadata, writeStart: start)
            return Outcome(model: model, before: before, after: after, statistics: statistics, metadata: metadata)
        }
        checkpoints?.remove()
        return outcome
    }

    /// A global allocation's importances and per-layer ratios (nil for uniform): the dense
    /// model's reverse pass over the calibration windows, or an earlier one's saved sums
    /// (`reused`, read from `importanceSource`), then `GlobalAllocation`.
    private func allocate(_ model: TransformerModel, calibration: CalibrationSet?, sourceSHA256: String, reused: ImportanceProgress?, layers: LayerSource?,
                          decoderParameters: Int, checkpoints: PruneCheckpoints?, progress: @escaping (String) -> Void) throws -> AllocatedRatios? {
        guard allocation.allocation != .uniform, let calibration else { return nil }
        let windows = calibration.windows
        let identity = importanceIdentity(sourceSHA256: sourceSHA256, calibration: calibration)
        let start = monotonicSeconds()
        let saved: ImportanceProgress?
        if let reused, let importanceSource {
            saved = reused
            progress("allocation \(allocation.allocation.rawValue): the gradient sums of \(windows.count) windows from \(importanceSource)")
        } else {
            progress("allocation \(allocation.allocation.rawValue): mask gradients of the dense model on \(windows.count) windows")
            saved = try checkpoints?.restoreAllocation()
            if let saved { progress("allocation: resumed after \(saved.windowsDone)/\(windows.count) windows from \(checkpoints!.folder.path)") }
        }
        var finished = saved
        let importance = try MaskImportance.estimate(model, windows: windows, settings: allocation, layers: layers, resume: saved,
                                                     save: { state, complete in
                                                         finished = state
                                                         try checkpoints?.saveAllocation(state, complete: complete)
                                                     }) { done, total in
            progress(String(format: "allocation: %d/%d windows (%.1f s)", done, total, monotonicSeconds() - start))
        }
        let ratios = try GlobalAllocation.ratios(importance.allocationLayers, target: ratio.value, decoderParameters: decoderParameters,
                                                 settings: allocation)
        progress("allocation: attention ratios " + ratios.map { String(format: "%.2f", $0.attention) }.joined(separator: " "))
        progress("allocation: MLP ratios " + ratios.map { String(format: "%.2f", $0.mlp) }.joined(separator: " "))
        guard let finished else { throw PruningError("the gradient pass ended without its sums (no calibration windows?)") }
        return AllocatedRatios(importance: importance, ratios: ratios, estimate: SavedImportance(identity: identity, progress: finished),
                               reusedFrom: importanceSource)
    }

    /// What decides a gradient pass's sums on this model and these windows.
    private func importanceIdentity(sourceSHA256: String, calibration: CalibrationSet) -> SavedImportance.Identity {
        SavedImportance.Identity(modelSHA256: sourceSHA256, calibration: calibration.settings, calibrationSHA256: calibration.sourceSHA256,
                                 offsets: calibration.offsets, groupSize: allocation.groupSize)
    }

    /// `importanceSource`'s sums, or why they cannot stand in for this run's gradient pass.
    private func reusedImportance(identity: SavedImportance.Identity) throws -> ImportanceProgress? {
        guard let importanceSource else { return nil }
        let reused = try SavedImportance.read(importanceSource)
        if let problem = reused.mismatch(with: identity, allocation: allocation.allocation) { throw PruningError("\(importanceSource): \(problem)") }
        return reused.progress
    }

    /// Counts of a streamed model: the parts outside the layers, and the finished layers.
    private static func counts(outside: ParameterCounts, layers: [(total: Int, shortcuts: Int)]) -> ParameterCounts {
        let decoder = layers.reduce(0) { $0 + $1.total }
        return ParameterCounts(total: outside.total + decoder, decoderLayers: decoder, embedding: outside.embedding, head: outside.head,
                               shortcuts: layers.reduce(0) { $0 + $1.shortcuts })
    }

    /// Whether this prune measures mask gradients (a global allocation not given `--importance`).
    var runsGradientPass: Bool { allocation.allocation != .uniform && importanceSource == nil }

    /// `statistics.h5` and `pruning.json` beside the weights; `metadata` gets the write's
    /// time and the peak memory.
    private func writeRecords(to path: String, loaded: LoadedModel, sourceSHA256: String, statistics: PruningStatistics,
                              metadata: inout PruningMetadata, writeStart: Double) throws {
        let folder = URL(fileURLWithPath: path)
        let h5 = try H5Writer(path: folder.appendingPathComponent("statistics.h5").path)
        try Provenance(extra: [
            "model": .string(loaded.name), "model_sha256": .string(sourceSHA256),
            "method": .string(method.name), "ratio": .double(ratio.value), "ratio_kind": .string(ratio.kind.rawValue),
        ]).write(to: h5)
        try statistics.write(to: h5)
        for (name, counts) in [("before", metadata.parametersBefore), ("after", metadata.parametersAfter)] {
            let values = ["total": counts.total, "decoder_layers": counts.decoderLayers, "embedding": counts.embedding, "head": counts.head,
                          "shortcuts": counts.shortcuts]
            for (key, value) in values { try h5.setAttribute(key, .int(Int64(value)), on: "/parameters/\(name)") }
        }
        try h5.commit()

        metadata.timings["write_s"] = monotonicSeconds() - writeStart
        metadata.peakRSSBytes = peakResidentBytes()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(metadata).write(to: folder.appendingPathComponent("pruning.json"))
    }

    /// Activations and statistics a prune of a model with `config` holds at its peak, beside
    /// the layers (which `RunMemory` counts): the calibration stream, either in the attention
    /// step (the layer's input, the Wo inputs before and after pruning, the stream after
    /// attention) or in the MLP step (input, stream after attention, Wdown inputs, outputs);
    /// the float64 sum of the widest statistic with the blocks taken out of it (C_KK and C_KP
    /// of the MLP step: together at most 3/4 of C more); and one forward call's scratch.
    public func workingBytes(_ config: ModelConfig, threads: Int) -> Int {
        guard let calibration else { return 0 }
        let tokens = calibration.samples * calibration.seqlen
        let d = config.hiddenSize, f = config.intermediateSize, heads = config.numAttentionHeads * config.resolvedHeadDim
        let statistics = 8 * 7 * max(f * f, heads * heads, d * d) / 4
        let rows = sequencesPerGroup * calibration.seqlen
        let prune = streamBytes(config, rows: tokens) + statistics + RunMemory.forwardBytes(config, rows: rows, keys: calibration.seqlen, threads: threads)
        return runsGradientPass ? max(prune, gradientPassBytes(config, seqlen: calibration.seqlen, threads: threads)) : prune
    }

    /// The allocation's reverse pass over one window of `seqlen` tokens, before the prune
    /// starts: three saved row matrices per layer (input, head outputs, stream after
    /// attention), one layer's gradients and recomputed rows, the attention's per-task dK
    /// and dV and score blocks, a block of logits, and one forward call's scratch.
    func gradientPassBytes(_ config: ModelConfig, seqlen s: Int, threads: Int) -> Int {
        let d = config.hiddenSize, f = config.intermediateSize, heads = config.numAttentionHeads * config.resolvedHeadDim
        let qkv = (config.numAttentionHeads + 2 * config.numKeyValueHeads) * config.resolvedHeadDim
        let saved = config.numHiddenLayers * 4 * s * (2 * d + heads)
        let layer = 4 * s * (4 * d + 2 * heads + 3 * f + 2 * qkv) + 4 * 2 * config.numAttentionHeads * s * 2 * config.resolvedHeadDim
        return saved + layer + 4 * 64 * config.vocabSize + RunMemory.forwardBytes(config, rows: s, keys: s, threads: threads)
    }

    /// The part of `workingBytes` a spilling run keeps on disk: the calibration stream but
    /// for the group of each kind in use.
    public func spillableBytes(_ config: ModelConfig) -> Int {
        guard let calibration else { return 0 }
        let groupRows = min(calibration.samples, sequencesPerGroup) * calibration.seqlen
        return streamBytes(config, rows: calibration.samples * calibration.seqlen) - streamBytes(config, rows: groupRows)
    }

    /// The calibration activations of `rows` rows held at the peak of a layer's step.
    private func streamBytes(_ config: ModelConfig, rows: Int) -> Int {
        let d = config.hiddenSize, f = config.intermediateSize, heads = config.numAttentionHeads * config.resolvedHeadDim
        return 4 * rows * max(2 * d + 2 * heads, 3 * d + f)
    }

    /// Where a run to `output` keeps its saved state: `.<name>.resume` beside it.
    static func checkpointFolder(of output: OutputFolder) -> URL {
        let destination = destination(of: output)
        return destination.deletingLastPathComponent().appendingPathComponent(".\(destination.lastPathComponent).resume")
    }

    /// The output folder's own path (its parent holds the saved states and spill files).
    private static func destination(of output: OutputFolder) -> URL { URL(fileURLWithPath: output.path).standardizedFileURL }

    /// Everything that decides the numbers of this run, and how its model is held (a
    /// streamed run's saved state has its finished layers apart, a resident one's holds the
    /// whole model); a saved state is used only by a run whose key is the same.
    func checkpointKey(sourceSHA256: String, calibration: CalibrationSet?, streamed: Bool) -> String {
        struct Settings: Codable {
            let harness, source, method, ratioKind: String
            let streamed: Bool
            let ratio: Double
            let options: MethodOptions
            let calibration: CalibrationSettings?
            let calibrationSHA256: String?
            let offsets: [Int]?
            let sequencesPerGroup: Int
            let allocation: AllocationSettings
            /// Set only when covariances are kept (a key made before the option existed stays the same).
            let covariances: Bool?
            /// Set only for a stand-in (likewise).
            let standInWindows: Int?
        }
        let settings = Settings(harness: HarnessVersion.current, source: sourceSHA256, method: method.name, ratioKind: ratio.kind.rawValue,
                                streamed: streamed, ratio: ratio.value, options: methodOptions, calibration: calibration?.settings,
                                calibrationSHA256: calibration?.sourceSHA256, offsets: calibration?.offsets, sequencesPerGroup: sequencesPerGroup,
                                allocation: allocation, covariances: savesCovariances ? true : nil, standInWindows: standInWindows)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return SHA256.hex(of: (try? encoder.encode(settings)) ?? Data())
    }
}

/// A global allocation: what the estimator measured and the ratios it gave each layer.
struct AllocatedRatios {
    let importance: MaskImportance
    let ratios: [ModuleRatios]
    /// The gradient sums, kept as the output's `importance.h5`.
    let estimate: SavedImportance
    /// The `--importance` they came from, if they were not measured by this run.
    let reusedFrom: String?

    /// Into `statistics.h5` beside what the method measured, per layer: the importances the
    /// allocation ranked and the ratios it set.
    func record(into statistics: inout PruningStatistics) {
        for (l, r) in ratios.enumerated() {
            statistics.record(layer: l, site: .outputProjectionInput, "allocation_unit_importance", importance.attentionUnits[l])
            statistics.record(layer: l, site: .outputProjectionInput, "allocation_ratio", [r.attention])
            statistics.record(layer: l, site: .downProjectionInput, "allocation_neuron_importance", importance.neurons[l])
            statistics.record(layer: l, site: .downProjectionInput, "allocation_ratio", [r.mlp])
        }
    }
}
