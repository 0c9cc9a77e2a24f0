import LinAlg

/// Forward calls run layer by layer: every call passes layer ℓ before layer ℓ + 1 is
/// fetched from its source, so only one layer's weights are in memory at a time (a
/// streamed model), and a caller can look at all calls between two layers (activation
/// statistics finished layer by layer; a pruned model stepped beside its dense one). Each
/// call goes through exactly the products of `hiddenStates(tokens:batch:)`, so the results
/// are bit-identical to it.
public final class LayerMajorPass {
    public let model: TransformerModel
    public let source: LayerSource
    public let sequenceLength: Int
    /// Each call's residual stream ([rows, width]) after the layers run so far.
    public private(set) var states: [Matrix<Float>]
    /// The next layer `advance` runs.
    public private(set) var nextLayer = 0

    /// Calls of one or more sequences of `sequenceLength` tokens each (one after another).
    public init(model: TransformerModel, calls: [[Int32]], sequenceLength: Int, layers source: LayerSource) throws {
        precondition(calls.allSatisfy { $0.count % sequenceLength == 0 && !$0.isEmpty }, "every call must hold whole sequences")
        self.model = model
        self.source = source
        self.sequenceLength = sequenceLength
        states = try calls.map { try model.embeddings($0) }
    }

    public var isFinished: Bool { nextLayer == source.layerCount }

    /// Runs layer `nextLayer` on every call, in call order, with `observer` watching.
    public func advance(observer: ActivationObserver? = nil) throws {
        precondition(!isFinished, "every layer has run")
        let index = nextLayer
        let layer = try source.layer(index)
        let widest = states.map(\.rows).max() ?? 0
        let workspace = Workspace(layers: [layer], streamWidth: states[0].cols, rows: widest, keys: sequenceLength)
        let rope = RoPETable.fromPositionZero(inverseFrequencies: layer.attention.ropeInverseFrequencies, length: sequenceLength)
        for g in states.indices {
            var stream = workspace.stream(holding: states[g])
            let batch = states[g].rows / sequenceLength
            try layer.forward(&stream, context: LayerContext(index: index, norm: model.streamNorm,
                                                             layout: .batched(batch: batch, length: sequenceLength, firstPosition: 0, cache: nil),
                                                             rope: rope, workspace: workspace, observer: observer))
            states[g] = stream.copy()
        }
        nextLayer += 1
    }

    /// The final-normed hidden states of every call, once every layer has run.
    public func finalHidden() -> [Matrix<Float>] {
        precondition(isFinished, "layer \(nextLayer) of \(source.layerCount) is still to run")
        return states.map { s in
            precondition(s.cols == model.hiddenSize, "the last layer leaves \(s.cols) values, the final norm takes \(model.hiddenSize)")
            return s.elements.withUnsafeBufferPointer { model.finalNormed($0.baseAddress!, rows: s.rows) }
        }
    }
}

extension TransformerModel {
    /// Final-normed hidden states of several forward calls, computed layer by layer with
    /// the layers of `source` (see `LayerMajorPass`).
    public func hiddenStates(calls: [[Int32]], sequenceLength: Int, layers source: LayerSource,
                             progress: ((Int) -> Void)? = nil) throws -> [Matrix<Float>] {
        let pass = try LayerMajorPass(model: self, calls: calls, sequenceLength: sequenceLength, layers: source)
        while !pass.isFinished {
            try pass.advance()
            progress?(pass.nextLayer)
        }
        return pass.finalHidden()
    }
}
