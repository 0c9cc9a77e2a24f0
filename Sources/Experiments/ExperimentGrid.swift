import Foundation

/// The cells of a config, in one fixed order: per model, its dense cell, then every method
/// × ratio × calibration seed. A cell is one model (pruned once) and every evaluation of
/// the config run on it; its `id` names its folder in the results.
public struct ExperimentGrid: Sendable {
    public struct Cell: Sendable, Equatable {
        public let model: String
        /// nil: the dense model.
        public let method: ExperimentConfig.MethodEntry?
        public let ratio: Double?
        public let seed: UInt64?

        /// "smollm2-135m/dense", "smollm2-135m/intraslice-global_pca-p0.25-s0": stable across
        /// runs and machines, so shards and resumed runs agree on where a cell lives.
        public var id: String {
            let model = ExperimentGrid.folderName(self.model)
            guard let method, let ratio, let seed else { return "\(model)/dense" }
            return "\(model)/\(method.label)-p\(String(format: "%.2f", ratio))-s\(seed)"
        }
    }

    public let cells: [Cell]

    public init(_ config: ExperimentConfig) {
        cells = config.models.flatMap { model in
            [Cell(model: model, method: nil, ratio: nil, seed: nil)] + config.methods.flatMap { method in
                config.ratios.flatMap { ratio in
                    config.calibration.seeds.map { Cell(model: model, method: method, ratio: ratio, seed: $0) }
                }
            }
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
    static func folderName(_ model: String) -> String {
        let last = URL(fileURLWithPath: model).lastPathComponent
        return last.hasSuffix(".gguf") ? String(last.dropLast(5)) : last
    }
}
