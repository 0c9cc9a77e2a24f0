import Foundation
import H5Store
import LinAlg
import Transformer

/// Where in a layer a residual stream is taken.
public enum ResidualSite: String, Sendable, CaseIterable {
    /// Entering the layer.
    case input
    /// After attention (entering the MLP half).
    case middle
    /// Leaving the layer.
    case output
}

/// The bases a rotated model's residual stream is expressed in (SliceGPT: the leading
/// principal directions Q, [D, d], the stream x·Q), per layer and site, so that its
/// stream maps back to the original model's coordinates as x·Qᵀ.
public struct ResidualStreamMap: Sendable {
    /// Per layer, per site: the basis, [D, d].
    public let bases: [[ResidualSite: Matrix<Float>]]

    public init(bases: [[ResidualSite: Matrix<Float>]]) { self.bases = bases }

    /// `x` ([rows, d]) in the original coordinates ([rows, D]).
    public func toReference(_ x: Matrix<Float>, layer: Int, site: ResidualSite) -> Matrix<Float> {
        guard let basis = bases[layer][site] else { return x }
        return matmul(x, basis, transposeB: true)
    }

    /// The map of the pruned folder at `path`, from the bases SliceGPT records in its
    /// `statistics.h5` (`layer_00/residual_in/basis`, then each layer's `residual_mid/basis`
    /// and `residual_out/basis`; a layer's input is the previous layer's output); nil for a
    /// model whose stream is not rotated (no pruning record, or another method).
    public static func read(modelFolder path: String) throws -> ResidualStreamMap? {
        guard let record = try PruningRecord.read(modelPath: path), record.method == "slicegpt" else { return nil }
        let file = URL(fileURLWithPath: path).appendingPathComponent("statistics.h5").path
        guard FileManager.default.fileExists(atPath: file) else { throw PruningError("\(file): missing; the rotation of the SliceGPT model in \(path) is unknown") }
        let reader = try H5Reader(path: file)
        func basis(_ layer: Int, _ site: CaptureSite) throws -> Matrix<Float> {
            let dataset = "/statistics/\(layerGroup(layer))/\(site.rawValue)/basis"
            guard reader.exists(dataset) else {
                throw PruningError("\(file): no \(dataset); the model was pruned before SliceGPT recorded its bases, prune it again to compare its stream")
            }
            let (values, shape) = try reader.read(dataset, as: Double.self)
            guard shape.count == 2 else { throw PruningError("\(file): \(dataset) has shape \(shape), not [D, d]") }
            return Matrix(rows: shape[0], cols: shape[1], elements: values.map(Float.init))
        }
        var bases: [[ResidualSite: Matrix<Float>]] = []
        var input = try basis(0, .residualIn)
        var layer = 0
        while reader.exists("/statistics/\(layerGroup(layer))/residual_out/basis") {
            let output = try basis(layer, .residualOut)
            bases.append([.input: input, .middle: try basis(layer, .residualMid), .output: output])
            input = output
            layer += 1
        }
        return ResidualStreamMap(bases: bases)
    }
}
