import Foundation
import Pruning

/// What one finished cell of an experiment holds (`cells/<id>/cell.json`): which model and
/// method, how it was pruned (`pruning.json` as written), and each evaluation's result as
/// the command that measured it printed it. Written once, when every step is done.
public struct CellRecord: Codable, Sendable {
    public let id: String
    public let model: String
    public let method: ExperimentConfig.MethodEntry?
    public let ratio: Double?
    public let seed: UInt64?
    /// The calibration setting it was pruned with (nil for the dense cell).
    public let calibration: ExperimentConfig.CalibrationEntry?
    /// The pruned folder's record (nil for the dense cell).
    public let pruning: PruningMetadata?
    /// An equal-speed cell's search (its probes and the ratio found); its evaluations are of
    /// the model at that ratio, none when the target was not reached.
    public let equalSpeed: EqualSpeedRecord?
    public let perplexity: [PerplexityRecord]
    public let zeroshot: ZeroShotRecord?
    public let latency: [LatencyRecord]
    public let provenance: RunProvenance

    enum CodingKeys: String, CodingKey { case id, model, method, ratio, seed, calibration, pruning, equalSpeed = "equal_speed", perplexity, zeroshot, latency, provenance }
}

/// Where and how a cell was run.
public struct RunProvenance: Codable, Sendable {
    public let harnessVersion: String
    public let host: String
    public let cpu: String
    public let threads: Int
    public let finishedUTC: String
    enum CodingKeys: String, CodingKey { case harnessVersion = "harness_version", host, cpu, threads, finishedUTC = "finished_utc" }
}

/// `eval ppl --json`, the part a table reads.
public struct PerplexityRecord: Codable, Sendable, Equatable {
    public let data: String
    public let seqlen: Int
    public let windows: Int
    public let ppl: Double
    public let meanNLL: Double
    public let predictedTokens: Int
    public let modelSHA256: String
    public let seconds: Double
    enum CodingKeys: String, CodingKey {
        case data, seqlen, windows, ppl, meanNLL = "mean_nll", predictedTokens = "predicted_tokens", modelSHA256 = "model_sha256", seconds
    }
}

/// `eval zeroshot --json`, the part a table reads.
public struct ZeroShotRecord: Codable, Sendable, Equatable {
    public struct Task: Codable, Sendable, Equatable {
        public let documents: Int
        /// The metric the papers report for the task (acc or acc_norm) and its value.
        public let metric: String
        public let reported: Double
        public let reportedStderr: Double
        enum CodingKeys: String, CodingKey { case documents, metric, reported, reportedStderr = "reported_stderr" }
    }
    public let tasks: [String: Task]
    public let averageSliceGPT5: Double?
    public let averageIntraSlice7: Double?
    public let modelSHA256: String
    public let seconds: Double
    enum CodingKeys: String, CodingKey {
        case tasks, averageSliceGPT5 = "average_slicegpt_5", averageIntraSlice7 = "average_intraslice_7", modelSHA256 = "model_sha256", seconds
    }
}

/// One shape's timing: the dense cell's from `bench prefill --json` or `bench decode
/// --json`; a pruned cell's from `bench speedup --json`, timed in alternation with the dense
/// model in the same process, which also gives its speedup.
public struct LatencyRecord: Codable, Sendable, Equatable {
    public let kind: ExperimentConfig.LatencyEntry.Kind
    public let batch: Int
    /// Prefill: tokens per sequence; decode: tokens in the cache.
    public let length: Int
    /// Median seconds of one prefill call or one decode step.
    public let medianSeconds: Double
    public let tokensPerSecond: Double
    /// Pruned cells: the dense model's median in the same measurement, and the median over
    /// alternating rounds of dense time / this model's time (absent in cells made before).
    public let baselineMedianSeconds: Double?
    public let speedup: Double?
    enum CodingKeys: String, CodingKey {
        case kind, batch, length, medianSeconds = "median_seconds", tokensPerSecond = "tokens_per_second",
             baselineMedianSeconds = "baseline_median_seconds", speedup
    }

    /// From the bench command's JSON line.
    static func decode(_ data: Data, entry: ExperimentConfig.LatencyEntry) throws -> LatencyRecord {
        struct Line: Decodable {
            let seconds_median: Double?, ms_per_step_median: Double?, tokens_per_second: Double
            let baseline_seconds_median: Double?, speedup: Double?
        }
        let line = try JSONDecoder().decode(Line.self, from: data)
        guard let seconds = line.seconds_median ?? line.ms_per_step_median.map({ $0 / 1000 }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "no seconds_median or ms_per_step_median"))
        }
        return LatencyRecord(kind: entry.kind, batch: entry.batch, length: entry.length, medianSeconds: seconds, tokensPerSecond: line.tokens_per_second,
                             baselineMedianSeconds: line.baseline_seconds_median, speedup: line.speedup)
    }
}
