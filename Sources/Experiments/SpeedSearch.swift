import Foundation

/// One probe of an equal-speed search: the model pruned at `ratio`, timed on the target's
/// shape against the dense model in one process (`bench speedup`: alternating rounds, the
/// speedup their median ratio), so a machine that drifts during the probe shifts both
/// sides alike.
public struct SpeedProbe: Codable, Sendable, Equatable {
    public let ratio: Double
    public let decoderReduction: Double
    public let denseSeconds: Double
    public let prunedSeconds: Double
    /// The median over rounds of dense / pruned time.
    public let speedup: Double
    /// Set when the model timed was a stand-in (`prune --stand-in-windows`): its method
    /// measured on this many calibration windows. Absent: the full prune was timed.
    public let standInWindows: Int?
    /// `ModelShapes` of the model timed (absent in probes made before it was recorded).
    public let shapesSHA256: String?

    /// `speedup` defaults to the ratio of the two medians.
    public init(ratio: Double, decoderReduction: Double, denseSeconds: Double, prunedSeconds: Double, speedup: Double? = nil,
                standInWindows: Int? = nil, shapesSHA256: String? = nil) {
        self.ratio = ratio
        self.decoderReduction = decoderReduction
        self.denseSeconds = denseSeconds
        self.prunedSeconds = prunedSeconds
        self.speedup = speedup ?? denseSeconds / prunedSeconds
        self.standInWindows = standInWindows
        self.shapesSHA256 = shapesSHA256
    }

    enum CodingKeys: String, CodingKey {
        case ratio, decoderReduction = "decoder_reduction", denseSeconds = "dense_seconds", prunedSeconds = "pruned_seconds", speedup
        case standInWindows = "stand_in_windows", shapesSHA256 = "shapes_sha256"
    }
}

/// What an equal-speed cell's search found (`cell.json` `equal_speed`).
public struct EqualSpeedRecord: Codable, Sendable, Equatable {
    public let target: ExperimentConfig.EqualSpeedEntry
    /// In the order they were made.
    public let probes: [SpeedProbe]
    /// The smallest probed ratio that reached the target; nil when even `max_ratio` did not.
    public let ratio: Double?

    public init(target: ExperimentConfig.EqualSpeedEntry, probes: [SpeedProbe]) {
        self.target = target
        self.probes = probes
        ratio = SpeedBisection(target: target).found(probes)
    }

    /// The probe at the ratio found.
    public var chosen: SpeedProbe? { probes.first { $0.ratio == ratio } }
}

/// Bisection on the ratio for the smallest one whose measured speedup reaches the target:
/// first a probe at `max_ratio` (if that misses, no ratio in range reaches it), then
/// `steps` halvings of the interval between the largest ratio known to miss (the dense
/// model, 0, to start) and the smallest known to reach it. Speed grows with the ratio up
/// to noise; a noisy probe can only move the answer within the interval it was taken in.
/// Ratios are rounded to 0.001, so ids and shapes are reproducible.
public struct SpeedBisection: Sendable {
    public let target: ExperimentConfig.EqualSpeedEntry

    public init(target: ExperimentConfig.EqualSpeedEntry) { self.target = target }

    /// The ratio to probe after `probes`, or nil when the search is over.
    public func next(after probes: [SpeedProbe]) -> Double? {
        guard let first = probes.first else { return target.maxRatio }
        guard reaches(first), probes.count <= target.steps else { return nil }
        var low = 0.0, high = first.ratio
        for probe in probes.dropFirst() {
            if reaches(probe) { high = probe.ratio } else { low = probe.ratio }
        }
        let middle = ((low + high) / 2 * 1000).rounded() / 1000
        return middle > low && middle < high ? middle : nil
    }

    /// The smallest probed ratio that reached the target (nil: none did).
    public func found(_ probes: [SpeedProbe]) -> Double? {
        probes.filter(reaches).map(\.ratio).min()
    }

    func reaches(_ probe: SpeedProbe) -> Bool { probe.speedup >= target.speedup }
}
