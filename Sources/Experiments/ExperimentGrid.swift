import Foundation

/// The cells of a config, in one fixed order: per model, its dense cell, then every method
/// × ratio × calibration setting × seed, then every equal-speed target × method × setting
/// × seed. A cell is one
/// model (pruned once; for a target, at the ratio its search found) and every evaluation of
/// the config run on it; its `id` names its folder in the results.
public struct ExperimentGrid: Sendable {
    public struct Cell: Sendable, Equatable {
        public let model: String
        /// nil: the dense model.
        public let method: ExperimentConfig.MethodEntry?
        public let ratio: Double?
        public let seed: UInt64?
        /// The calibration it is pruned with (nil for the dense cell).
        public let calibration: ExperimentConfig.CalibrationEntry?
        /// Set when the config has several calibration settings: the id names the one.
        let calibrationTag: String?
        /// An equal-speed cell's target (its ratio is searched for; `ratio` is nil).
        public let target: ExperimentConfig.EqualSpeedEntry?

        init(model: String, method: ExperimentConfig.MethodEntry? = nil, ratio: Double? = nil, seed: UInt64? = nil,
             calibration: ExperimentConfig.CalibrationEntry? = nil, tagged: Bool = false, target: ExperimentConfig.EqualSpeedEntry? = nil) {
            self.model = model
            self.method = method
            self.ratio = ratio
            self.seed = seed
            self.calibration = calibration
            calibrationTag = tagged ? calibration?.tag : nil
            self.target = target
        }

        /// "smollm2-135m/dense", "smollm2-135m/intraslice-global_pca-p0.25-s0",
        /// "smollm2-135m/slicegpt-prefill-4x512-1.25x-s0": stable across runs and machines,
        /// so shards and resumed runs agree on where a cell lives.
        public var id: String {
            let model = ExperimentGrid.folderName(self.model)
            guard let method, let seed else { return "\(model)/dense" }
            let calibration = calibrationTag.map { "-\($0)" } ?? ""
            if let target { return "\(model)/\(method.label)-\(target.slug)\(calibration)-s\(seed)" }
            return "\(model)/\(method.label)-p\(String(format: "%.2f", ratio ?? 0))\(calibration)-s\(seed)"
        }
    }

    public let cells: [Cell]

    public init(_ config: ExperimentConfig) {
        let tagged = config.calibrations.count > 1
        // Every calibration setting × its seeds.
        let settings = config.calibrations.flatMap { calibration in calibration.seeds.map { (calibration, $0) } }
        cells = config.models.flatMap { model in
            let fixed = config.methods.flatMap { method in
                config.ratios.flatMap { ratio in
                    settings.map { Cell(model: model, method: method, ratio: ratio, seed: $1, calibration: $0, tagged: tagged) }
                }
            }
            let searched = (config.equalSpeed ?? []).flatMap { target in
                config.methods.flatMap { method in
                    settings.map { Cell(model: model, method: method, seed: $1, calibration: $0, tagged: tagged, target: target) }
                }
            }
            return [Cell(model: model)] + fixed + searched
        }
    }

    /// Shard `index` (0-based) of `count`: every count-th cell from `index`, so each shard
    /// gets a share of every model and method.
    public func shard(_ index: Int, of count: Int) -> [Cell] {
        precondition(count >= 1 && (0..<count).contains(index), "shard \(index) of \(count)")
        return cells.enumerated().filter { $0.offset % count == index }.map(\.element)
    }

    /// A model's folder name: a registry name as it is, a path by its last component
    /// (without a `.gguf` extension).
    public static func folderName(_ model: String) -> String {
        let last = URL(fileURLWithPath: model).lastPathComponent
        return last.hasSuffix(".gguf") ? String(last.dropLast(5)) : last
    }
}
