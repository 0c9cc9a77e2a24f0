import LinAlg

extension TransformerModel {
    /// Final-normed hidden states of several forward calls, each of one or more sequences of
    /// `sequenceLength` tokens (one after another), computed layer by layer: every call
    /// passes layer ℓ before layer ℓ + 1 is fetched from `source`, so only one layer's weights
    /// are in memory at a time. Each call goes through exactly the products of
    /// `hiddenStates(tokens:batch:)`, so the results are bit-identical to it.
    public func hiddenStates(calls: [[Int32]], sequenceLength: Int, layers source: LayerSource,
                             progress: ((Int) -> Void)? = nil) throws -> [Matrix<Float>] {
        precondition(calls.allSatisfy { $0.count % sequenceLength == 0 && !$0.isEmpty }, "every call must hold whole sequences")
        var states = try calls.map { try embeddings($0) }
        for index in 0..<source.layerCount {
            let layer = try source.layer(index)
            let frequencies = layer.attention.ropeInverseFrequencies
            let widest = states.map(\.rows).max() ?? 0
            let workspace = Workspace(layers: [layer], streamWidth: states[0].cols, rows: widest, keys: sequenceLength)
            let rope = RoPETable.fromPositionZero(inverseFrequencies: frequencies, length: sequenceLength)
            for g in states.indices {
                var stream = workspace.stream(holding: states[g])
                let batch = states[g].rows / sequenceLength
                try layer.forward(&stream, context: LayerContext(index: index, norm: streamNorm,
                                                                 layout: .batched(batch: batch, length: sequenceLength, firstPosition: 0, cache: nil),
                                                                 rope: rope, workspace: workspace, observer: nil))
                states[g] = stream.copy()
            }
            progress?(index + 1)
        }
        return states.map { s in
            precondition(s.cols == hiddenSize, "the last layer leaves \(s.cols) values, the final norm takes \(hiddenSize)")
            return s.elements.withUnsafeBufferPointer { finalNormed($0.baseAddress!, rows: s.rows) }
        }
    }
}
