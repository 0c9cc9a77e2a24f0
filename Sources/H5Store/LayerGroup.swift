import Foundation

/// The group name of decoder layer `layer` in every results file (`layer_00`, `layer_01`, …):
/// statistics.h5 of a prune and the files of `intraslice activations` share it.
public func layerGroup(_ layer: Int) -> String { "layer_" + String(format: "%02d", layer) }
