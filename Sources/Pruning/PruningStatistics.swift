import Foundation
import H5Store

/// What a method measured while pruning, per layer and site: eigenvalue spectra, the
/// fraction of variance kept, the chosen heads and channels, reconstruction errors. Written
/// to HDF5 as `/statistics/layer_NN/<site>/<name>`.
public struct PruningStatistics: Sendable {
    public struct Entry: Sendable {
        public let layer: Int
        public let site: String
        public let name: String
        public let values: [Double]
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    /// Statistics recorded before (a resumed prune takes them from its saved state).
    init(entries: [Entry]) { self.entries = entries }

    public mutating func record(layer: Int, site: String, _ name: String, _ values: [Double]) {
        entries.append(Entry(layer: layer, site: site, name: name, values: values))
    }

    public mutating func record(layer: Int, site: String, _ name: String, _ values: [Int]) {
        record(layer: layer, site: site, name, values.map(Double.init))
    }

    public func value(layer: Int, site: String, _ name: String) -> [Double]? {
        entries.last { $0.layer == layer && $0.site == site && $0.name == name }?.values
    }

    public func write(to writer: H5Writer, group: String = "/statistics") throws {
        for entry in entries {
            let path = "\(group)/layer_\(String(format: "%02d", entry.layer))/\(entry.site)/\(entry.name)"
            try writer.write(entry.values, shape: [entry.values.count], to: path)
        }
    }
}

