import LinAlg
import Transformer

/// What a compression method may assume about an architecture, and where its parts are.
/// The weights of every architecture already share one layout in `TransformerModel`
/// (fused [Q; K; V] and [gate; up] rows, half-split RoPE), so the adapter's job is to say
/// which transformations keep the function unchanged, and to do the surgery methods ask for
/// (`LayerSurgery`) without them touching rows and columns themselves.
public struct ArchitectureAdapter: Sendable {
    public let architecture: Architecture

    public init(_ architecture: Architecture) { self.architecture = architecture }

    /// Why the residual stream cannot be rotated without changing the function (SliceGPT's
    /// computational invariance), or nil when it can. RMSNorm commutes with an orthogonal
    /// Q only when nothing else normalises or scales the stream along the way.
    public var rotationObstacle: String? {
        switch architecture {
        case .llama, .qwen2, .phi3:
            return nil
        case .gemma3:
            return "gemma3 normalises each module's output (post-attention and post-feedforward RMSNorms) before it joins the "
                + "residual stream, so a rotation Q of the stream does not pass through those norms and the sliced model "
                + "would compute a different function"
        }
    }

    /// Why the query/key head size cannot shrink by dropping rotary pairs, or nil when it can.
    /// Gemma 3 normalises each query and key head over all its dimensions before RoPE, so
    /// dropping dimensions changes the norm of the ones that stay.
    public var queryKeyPairObstacle: String? {
        architecture == .gemma3 ? "gemma3's q/k RMSNorm spans the whole head, so rotary pairs cannot be dropped" : nil
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
