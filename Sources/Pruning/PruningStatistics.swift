import Foundation
import H5Store
import Transformer

/// What a method measured while pruning, per layer and capture site (the site whose
/// activations the numbers are about: `wo_input` for head and Wo-channel choices,
/// `wdown_input` for MLP channels, a residual site for SliceGPT's spectra and bases):
/// eigenvalue spectra, the fraction of variance kept, the chosen heads and channels,
/// reconstruction errors. Written to HDF5 as `/statistics/layer_NN/<site>/<name>`, indices
/// and counts as int64.
public struct PruningStatistics: Sendable {
    public struct Entry: Sendable {
        public let layer: Int
        public let site: CaptureSite
        public let name: String
        public let values: [Double]
        /// Indices or counts, stored as int64 (the values are whole numbers).
        public let isInteger: Bool
        /// The dataset's shape (one dimension for a list).
        public let shape: [Int]

        init(layer: Int, site: CaptureSite, name: String, values: [Double], isInteger: Bool, shape: [Int]? = nil) {
            precondition(layer >= 0, "statistics of layer \(layer)")
            precondition(shape.map { $0.reduce(1, *) == values.count } ?? true, "\(values.count) values for shape \(shape ?? [])")
            self.layer = layer
            self.site = site
            self.name = name
            self.values = values
            self.isInteger = isInteger
            self.shape = shape ?? [values.count]
        }
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    /// Statistics recorded before (a resumed prune takes them from its saved state).
    init(entries: [Entry]) { self.entries = entries }

    /// Records real values: a list, or a matrix row-major with its `shape`.
    public mutating func record(layer: Int, site: CaptureSite, _ name: String, _ values: [Double], shape: [Int]? = nil) {
        entries.append(Entry(layer: layer, site: site, name: name, values: values, isInteger: false, shape: shape))
    }

    /// Records indices or counts.
    public mutating func record(layer: Int, site: CaptureSite, _ name: String, _ values: [Int]) {
        entries.append(Entry(layer: layer, site: site, name: name, values: values.map(Double.init), isInteger: true))
    }

    public func value(layer: Int, site: CaptureSite, _ name: String) -> [Double]? {
        entries.last { $0.layer == layer && $0.site == site && $0.name == name }?.values
    }

    public func write(to writer: H5Writer, group: String = "/statistics") throws {
        for entry in entries {
            let path = "\(group)/\(layerGroup(entry.layer))/\(entry.site.rawValue)/\(entry.name)"
            if entry.isInteger {
                try writer.write(entry.values.map { Int64($0) }, shape: entry.shape, to: path)
            } else {
                try writer.write(entry.values, shape: entry.shape, to: path)
            }
        }
    }
}
