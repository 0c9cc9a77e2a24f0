import Pruning

/// One study, as an `Experiments/*.yaml` file describes it: a grid of models × methods ×
/// ratios × calibration settings × their seeds, each cell pruned once and evaluated by
/// every evaluation listed, plus the dense model of each. Keys are the file's (snake case); README
/// "Experiment configs" is the schema.
public struct ExperimentConfig: Codable, Equatable, Sendable {
    public var name: String
    public var description: String?
    /// Registry names or paths (GGUF files, HuggingFace folders).
    public var models: [String]
    public var methods: [MethodEntry]
    public var ratios: [Double]
    public var ratioKind: RatioKind
    /// One mapping in the file, or a list of them (a grid axis: a calibration ablation).
    public var calibrations: [CalibrationEntry]
    public var evaluations: Evaluations
    /// Speed targets: for each, every method's ratio that reaches it is searched for and the
    /// model at that ratio evaluated like the other cells.
    public var equalSpeed: [EqualSpeedEntry]?

    enum CodingKeys: String, CodingKey {
        case name, description, models, methods, ratios, ratioKind = "ratio_kind", calibration, evaluations, equalSpeed = "equal_speed"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        models = try c.decode([String].self, forKey: .models)
        methods = try c.decode([MethodEntry].self, forKey: .methods)
        ratios = try c.decode([Double].self, forKey: .ratios)
        ratioKind = try c.value(.ratioKind, default: .params)
        if c.contains(.calibration), (try? c.nestedUnkeyedContainer(forKey: .calibration)) != nil {
            calibrations = try c.decode([CalibrationEntry].self, forKey: .calibration)
        } else {
            calibrations = [try c.value(.calibration, default: CalibrationEntry())]
        }
        evaluations = try c.decode(Evaluations.self, forKey: .evaluations)
        equalSpeed = try c.decodeIfPresent([EqualSpeedEntry].self, forKey: .equalSpeed)
    }

    /// One calibration setting is written as a mapping, as before lists existed, so the
    /// config's SHA-256 (the identity of its results folder) does not change.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(description, forKey: .description)
        try c.encode(models, forKey: .models)
        try c.encode(methods, forKey: .methods)
        try c.encode(ratios, forKey: .ratios)
        try c.encode(ratioKind, forKey: .ratioKind)
        if calibrations.count == 1 { try c.encode(calibrations[0], forKey: .calibration) } else { try c.encode(calibrations, forKey: .calibration) }
        try c.encode(evaluations, forKey: .evaluations)
        try c.encodeIfPresent(equalSpeed, forKey: .equalSpeed)
    }

    /// A pruning method and how it is run; `- intraslice` is short for `- {method: intraslice}`.
    public struct MethodEntry: Codable, Equatable, Sendable {
        public var method: String
        /// uniform, global or global_pca (default: the method's published one).
        public var allocation: Allocation?
        public var sliceHead: Bool?
        public var mlpCompensation: Bool?

        enum CodingKeys: String, CodingKey { case method, allocation, sliceHead = "slice_head", mlpCompensation = "mlp_compensation" }

        public init(method: String, allocation: Allocation? = nil, sliceHead: Bool? = nil, mlpCompensation: Bool? = nil) {
            self.method = method
            self.allocation = allocation
            self.sliceHead = sliceHead
            self.mlpCompensation = mlpCompensation
        }

        public init(from decoder: Decoder) throws {
            if let name = try? decoder.singleValueContainer().decode(String.self) {
                self.init(method: name)
                return
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(method: try c.decode(String.self, forKey: .method), allocation: try c.decodeIfPresent(Allocation.self, forKey: .allocation),
                      sliceHead: try c.decodeIfPresent(Bool.self, forKey: .sliceHead),
                      mlpCompensation: try c.decodeIfPresent(Bool.self, forKey: .mlpCompensation))
        }

        /// A name for the method as configured, unique within a grid: "intraslice",
        /// "intraslice-global_pca", "slicegpt-slice_head".
        public var label: String {
            var parts = [method]
            if let allocation { parts.append(allocation.rawValue) }
            if sliceHead == true { parts.append("slice_head") }
            if mlpCompensation == false { parts.append("no_mlp_compensation") }
            return parts.joined(separator: "-")
        }
    }

    public struct CalibrationEntry: Codable, Equatable, Sendable {
        public var text: String = "wiki"
        public var samples: Int = 128
        public var seqlen: Int = 2048
        public var sampling: String = "random"
        /// One grid column per seed (the calibration windows' offsets).
        public var seeds: [UInt64] = [0]

        enum CodingKeys: String, CodingKey { case text, samples, seqlen, sampling, seeds }

        init() {}

        /// "wiki-128x2048-random": a folder-name part, in ids only when a config has several.
        public var tag: String { "\(text)-\(samples)x\(seqlen)-\(sampling)" }

        /// "wiki 128 × 2048 random".
        public var label: String { "\(text) \(samples) × \(seqlen) \(sampling)" }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            text = try c.value(.text, default: text)
            samples = try c.value(.samples, default: samples)
            seqlen = try c.value(.seqlen, default: seqlen)
            sampling = try c.value(.sampling, default: sampling)
            seeds = try c.value(.seeds, default: seeds)
        }
    }

    public struct Evaluations: Codable, Equatable, Sendable {
        public var perplexity: [PerplexityEntry]?
        public var zeroshot: ZeroShotEntry?
        public var latency: [LatencyEntry]?
    }

    public struct PerplexityEntry: Codable, Equatable, Sendable {
        public var data: String = "wikitext2"
        public var seqlen: Int = 2048
        /// The first N windows (default: all).
        public var windows: Int?

        enum CodingKeys: String, CodingKey { case data, seqlen, windows }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            data = try c.value(.data, default: data)
            seqlen = try c.value(.seqlen, default: seqlen)
            windows = try c.decodeIfPresent(Int.self, forKey: .windows)
        }
    }

    public struct ZeroShotEntry: Codable, Equatable, Sendable {
        /// Task names, or `all` (the 7 tasks of IntraSlice's average).
        public var tasks: [String] = ["all"]
        /// The first N documents of each task (default: all).
        public var limit: Int?

        enum CodingKeys: String, CodingKey { case tasks, limit }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            tasks = try c.value(.tasks, default: tasks)
            limit = try c.decodeIfPresent(Int.self, forKey: .limit)
        }
    }

    /// One timed shape: `prefill` of `batch` × `length` tokens, or `decode` steps of `batch`
    /// sequences at a cache of `length` tokens.
    public struct LatencyEntry: Codable, Equatable, Sendable {
        public enum Kind: String, Codable, Sendable { case prefill, decode }
        public var kind: Kind
        public var batch: Int = 1
        public var length: Int

        enum CodingKeys: String, CodingKey { case kind, batch, length }

        public init(kind: Kind, batch: Int, length: Int) {
            self.kind = kind
            self.batch = batch
            self.length = length
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            kind = try c.decode(Kind.self, forKey: .kind)
            batch = try c.value(.batch, default: batch)
            length = try c.decode(Int.self, forKey: .length)
        }
    }
}

extension ExperimentConfig {
    /// A speed target: `speedup` × the dense model's speed on one latency shape, reached by
    /// bisection on the ratio in (0, `max_ratio`] over `steps` halvings after a first probe at
    /// `max_ratio` (which says whether the target is reachable at all).
    public struct EqualSpeedEntry: Codable, Equatable, Sendable {
        public var kind: LatencyEntry.Kind
        public var batch: Int = 1
        public var length: Int
        public var speedup: Double
        public var maxRatio: Double = 0.6
        public var steps: Int = 5

        enum CodingKeys: String, CodingKey { case kind, batch, length, speedup, maxRatio = "max_ratio", steps }

        public init(kind: LatencyEntry.Kind, batch: Int, length: Int, speedup: Double, maxRatio: Double = 0.6, steps: Int = 5) {
            self.kind = kind
            self.batch = batch
            self.length = length
            self.speedup = speedup
            self.maxRatio = maxRatio
            self.steps = steps
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            kind = try c.decode(LatencyEntry.Kind.self, forKey: .kind)
            batch = try c.value(.batch, default: batch)
            length = try c.decode(Int.self, forKey: .length)
            speedup = try c.decode(Double.self, forKey: .speedup)
            maxRatio = try c.value(.maxRatio, default: maxRatio)
            steps = try c.value(.steps, default: steps)
        }

        /// The shape the target is measured on, as a latency entry.
        public var shape: LatencyEntry { LatencyEntry(kind: kind, batch: batch, length: length) }

        /// "prefill 4×512 ≥ 1.25×".
        public var label: String { "\(kind.rawValue) \(batch)×\(length) ≥ \(Self.format(speedup))×" }

        /// "prefill-4x512-1.25x": a folder-name part.
        var slug: String { "\(kind.rawValue)-\(batch)x\(length)-\(Self.format(speedup))x" }

        static func format(_ speedup: Double) -> String {
            var text = String(format: "%.3f", speedup)
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
            return text
        }
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or `fallback` when the key is absent (a key present with the
    /// wrong type is still an error).
    func value<T: Decodable>(_ key: Key, default fallback: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback
    }
}
