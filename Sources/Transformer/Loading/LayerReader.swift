import LinAlg
import ModelIO

/// A checkpoint's tensors by full name, as Float32 (each loader reads its own file format).
protocol TensorSource {
    /// The file or folder, for errors.
    var path: String { get }
    func optionalMatrix(_ name: String) throws -> Matrix<Float>?
    func optionalVector(_ name: String) throws -> [Float]?
}

extension TensorSource {
    func matrix(_ name: String) throws -> Matrix<Float> {
        guard let m = try optionalMatrix(name) else { throw ModelFileError(path: path, message: "tensor \(name) is missing") }
        return m
    }

    func vector(_ name: String) throws -> [Float] {
        guard let v = try optionalVector(name) else { throw ModelFileError(path: path, message: "tensor \(name) is missing") }
        return v
    }
}

/// Reads decoder layers under a family's tensor names, in whichever format: every module the
/// family has must be stored (a missing one is named), fused modules are split where the
/// layer's shape says, and norm weights get the stored offset added.
struct LayerReader {
    let names: TensorNames
    let tensors: TensorSource
    /// Added to every norm weight (1 for Gemma's HuggingFace checkpoints).
    let normOffset: Float

    /// Layer `index`. `queryKeyValueRows` and `gateUpRows` are the row counts of the parts,
    /// where a fused module is split.
    func read(_ index: Int, queryKeyValueRows: [Int], gateUpRows: [Int]) throws -> LayerTensors {
        let layer = names.layer
        func module(_ name: String) -> String { names.layerModule(index, name) }
        func norm(_ name: String) throws -> [Float] { try offset(tensors.vector(TensorNames.weight(module(name)))) }
        func optionalNorm(_ name: String?) throws -> [Float]? { try name.map(norm) }
        let qkv = try stacked(layer.queryKeyValue, layer: index, rows: queryKeyValueRows)
        let gateUp = try stacked(layer.gateUp, layer: index, rows: gateUpRows)
        return LayerTensors(
            attentionNorm: try norm(layer.attentionNorm),
            wq: qkv.weights[0], wk: qkv.weights[1], wv: qkv.weights[2],
            bq: qkv.biases[0], bk: qkv.biases[1], bv: qkv.biases[2],
            qNorm: try optionalNorm(layer.queryNorm), kNorm: try optionalNorm(layer.keyNorm),
            wo: try tensors.matrix(TensorNames.weight(module(layer.attentionOutput))),
            postAttentionNorm: try optionalNorm(layer.postAttentionNorm),
            mlpNorm: try norm(layer.mlpNorm),
            wGate: gateUp.weights[0], wUp: gateUp.weights[1],
            wDown: try tensors.matrix(TensorNames.weight(module(layer.down))),
            postMLPNorm: try optionalNorm(layer.postMLPNorm))
    }

    /// A global norm (the final one).
    func norm(_ module: String) throws -> [Float] { offset(try tensors.vector(TensorNames.weight(module))) }

    private func offset(_ weights: [Float]) -> [Float] { normOffset == 0 ? weights : weights.map { $0 + normOffset } }

    /// The parts of stacked projections with their biases (absent biases are nil).
    private func stacked(_ stacking: Stacking, layer index: Int, rows: [Int]) throws -> (weights: [Matrix<Float>], biases: [[Float]?]) {
        switch stacking {
        case .separate(let modules):
            let full = modules.map { names.layerModule(index, $0) }
            return (try full.map { try tensors.matrix(TensorNames.weight($0)) },
                    try full.map { try tensors.optionalVector(TensorNames.bias($0)) })
        case .fused(let module):
            let full = names.layerModule(index, module)
            let weight = try tensors.matrix(TensorNames.weight(full))
            let bias = try tensors.optionalVector(TensorNames.bias(full))
            let total = rows.reduce(0, +)
            guard weight.rows == total, bias == nil || bias!.count == total else {
                throw ModelFileError(path: tensors.path, message: "layer \(index): the fused \(module) has \(weight.rows) rows"
                                     + (bias.map { " and \($0.count) biases" } ?? "") + "; the config implies \(total)")
            }
            let starts = rows.indices.map { rows[..<$0].reduce(0, +) }
            let ranges = zip(starts, rows).map { $0..<($0 + $1) }
            return (ranges.map { weight.selectingRows(Array($0)) }, ranges.map { range in bias.map { Array($0[range]) } })
        }
    }
}
