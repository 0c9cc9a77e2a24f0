import LinAlg
import Transformer

/// What a compression method may assume about a model, and where its parts are.
/// The weights of every family already share one layout in `TransformerModel`
/// (fused [Q; K; V] and [gate; up] rows, half-split RoPE), so the adapter's job is to say
/// which transformations keep the function unchanged, and to do the surgery methods ask for
/// (`LayerSurgery`) without them touching rows and columns themselves. What it says follows
/// from the model's structure (which norms its layers have), never from the family's name.
public struct ArchitectureAdapter: Sendable {
    /// Why the residual stream cannot be rotated without changing the function (SliceGPT's
    /// computational invariance), or nil when it can. RMSNorm commutes with an orthogonal
    /// Q only when nothing else normalises or scales the stream along the way.
    public let rotationObstacle: String?
    /// Why the query/key head size cannot shrink by dropping rotary pairs, or nil when it can.
    public let queryKeyPairObstacle: String?

    public init(_ model: TransformerModel) {
        let family = model.architecture.name
        if let index = model.layers.firstIndex(where: { $0.postAttentionNorm != nil || $0.postMLPNorm != nil }) {
            rotationObstacle = "layer \(index) of this \(family) model normalises its module outputs (post-attention/post-MLP "
                + "RMSNorms) before they join the residual stream, so a rotation Q of the stream does not pass through those "
                + "norms and the sliced model would compute a different function"
        } else {
            rotationObstacle = nil
        }
        if let index = model.layers.firstIndex(where: { $0.attention.qNorm != nil || $0.attention.kNorm != nil }) {
            queryKeyPairObstacle = "layer \(index) of this \(family) model normalises each query and key head over all its "
                + "dimensions (q/k RMSNorm) before RoPE, so dropping rotary pairs would change the norm of the pairs kept"
        } else {
            queryKeyPairObstacle = nil
        }
    }

    /// Folds every residual-stream RMSNorm scale into the linears that read it, leaving
    /// unit weights: exact in exact arithmetic, the first step of SliceGPT. Unties the head,
    /// which then absorbs the final norm while the embedding stays as it was.
    public func fuseNorms(_ model: inout TransformerModel) throws {
        if let obstacle = rotationObstacle { throw PruningError("norm fusion: \(obstacle)") }
        if model.lmHead == nil { model.lmHead = model.embedding }
        for index in model.layers.indices {
            var layer = model.layers[index]
            layer.attention.wqkv.scaleColumns(by: layer.attentionNorm)
            layer.attentionNorm = [Float](repeating: 1, count: layer.attentionNorm.count)
            layer.mlp.wGateUp.scaleColumns(by: layer.mlpNorm)
            layer.mlpNorm = [Float](repeating: 1, count: layer.mlpNorm.count)
            model.layers[index] = layer
        }
        model.lmHead!.scaleColumns(by: model.finalNorm)
        model.finalNorm = [Float](repeating: 1, count: model.finalNorm.count)
    }
}

extension Matrix where Scalar == Float {
    /// W·diag(s) in the [out, in] layout: column j times s[j].
    mutating func scaleColumns(by s: [Float]) {
        precondition(s.count == cols, "\(s.count) scales for \(cols) columns")
        let c = cols
        elements.withUnsafeMutableBufferPointer { w in
            for r in 0..<rows { for j in 0..<c { w[r * c + j] *= s[j] } }
        }
    }
}

public struct PruningError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
