import Datasets
import Foundation
import Transformer

/// Everything a pruned folder's `pruning.json` says about how it was made (the README gives
/// its schema); `PruningRecord` reads back the part that results carry as provenance.
public struct PruningMetadata: Codable, Sendable {
    public struct Options: Codable, Sendable {
        public let sliceHead: Bool
        public let mlpCompensation: Bool
        enum CodingKeys: String, CodingKey { case sliceHead = "slice_head", mlpCompensation = "mlp_compensation" }
    }

    public struct SourceModel: Codable, Sendable {
        public let name: String
        public let path: String
        public let sha256: String
    }

    public struct Counts: Codable, Sendable, Equatable {
        public let total, decoderLayers, embedding, head, shortcuts: Int
        enum CodingKeys: String, CodingKey { case total, decoderLayers = "decoder_layers", embedding, head, shortcuts }

        init(_ counts: ParameterCounts) {
            (total, decoderLayers, embedding, head, shortcuts) = (counts.total, counts.decoderLayers, counts.embedding, counts.head, counts.shortcuts)
        }
    }

    public struct Calibration: Codable, Sendable {
        public let source: String
        public let corpus: String
        public let corpusSHA256: String?
        public let corpusTokens: Int
        public let samples: Int
        public let seqlen: Int
        public let sampling: String
        public let seed: UInt64
        public let offsets: [Int]
        public let sequencesPerGroup: Int

        enum CodingKeys: String, CodingKey {
            case source, corpus, corpusSHA256 = "corpus_sha256", corpusTokens = "corpus_tokens", samples, seqlen, sampling, seed, offsets
            case sequencesPerGroup = "sequences_per_group"
        }

        init(_ set: CalibrationSet, sequencesPerGroup: Int) {
            source = set.settings.source
            corpus = set.corpus
            corpusSHA256 = set.sourceSHA256
            corpusTokens = set.tokenCount
            samples = set.settings.samples
            seqlen = set.settings.seqlen
            sampling = set.settings.sampling.rawValue
            seed = set.settings.seed
            offsets = set.offsets
            self.sequencesPerGroup = sequencesPerGroup
        }
    }

    /// How the ratio was spread over layers and modules (absent in folders written before
    /// allocations existed: those are uniform).
    public struct AllocationRecord: Codable, Sendable {
        public let settings: AllocationSettings
        /// Per layer, the fraction of its attention / MLP parameters the allocation asked for.
        public let attentionRatios: [Double]
        public let mlpRatios: [Double]
        /// The dense model's mean loss on the calibration sequences (the gradient pass's; nil
        /// for uniform).
        public let calibrationLoss: Double?
        /// The `--importance` whose gradient sums the allocation spent (nil: measured by this
        /// run, or uniform).
        public let importanceFrom: String?
        enum CodingKeys: String, CodingKey {
            case settings, attentionRatios = "attention_ratios", mlpRatios = "mlp_ratios", calibrationLoss = "calibration_loss"
            case importanceFrom = "importance_from"
        }
    }
    public let harnessVersion: String
    public let createdUTC: String
    public let method: String
    public let ratio: Double
    public let ratioKind: String
    public let options: Options
    public let sourceModel: SourceModel
    public let parametersBefore: Counts
    public let parametersAfter: Counts
    /// The fraction of decoder-layer parameters removed.
    public let decoderReduction: Double
    public let blasThreads: Int
    /// resident or streamed.
    public let residency: String
    public let resumedFromLayer: Int?
    /// true when the calibration activations were kept in temporary files (absent otherwise).
    public let calibrationSpilled: Bool?
    /// A timing stand-in's method windows (`prune --stand-in-windows`; absent for a full prune).
    public let standInWindows: Int?
    public let calibration: Calibration?
    public let allocation: AllocationRecord?
    /// Seconds by phase: load_s, calibration_tokenize_s, prune_s, write_s.
    public var timings: [String: Double]
    public var peakRSSBytes: Int

    enum CodingKeys: String, CodingKey {
        case harnessVersion = "harness_version", createdUTC = "created_utc", method, ratio, ratioKind = "ratio_kind", options
        case sourceModel = "source_model", parametersBefore = "parameters_before", parametersAfter = "parameters_after"
        case decoderReduction = "decoder_reduction", blasThreads = "blas_threads", residency, resumedFromLayer = "resumed_from_layer"
        case calibrationSpilled = "calibration_spilled", standInWindows = "stand_in_windows"
        case calibration, allocation, timings, peakRSSBytes = "peak_rss_bytes"
    }
}
