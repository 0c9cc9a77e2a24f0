import LinAlg

extension TransformerModel {
    /// Final-normed hidden states of several groups of `batch` equal-length sequences
    /// (each group's tokens one sequence after another), computed layer by layer: every
    /// group passes layer ℓ before layer ℓ + 1 is fetched from `source`, so only one layer's
    /// weights are in memory at a time. Each group goes through exactly the products of
    /// `hiddenStates(tokens:batch:)`, so the results are bit-identical to it.
    public func hiddenStates(groups: [[Int32]], batch: Int, layers source: LayerSource,
                             progress: ((Int) -> Void)? = nil) throws -> [Matrix<Float>] {
        precondition(groups.allSatisfy { $0.count % batch == 0 && $0.count > 0 }, "every group must hold \(batch) sequences")
        var states = try groups.map { try embeddings($0) }
        var tables: [[Float]: RoPETable] = [:]
        for index in 0..<source.layerCount {
            let layer = try source.layer(index)
            let frequencies = layer.attention.ropeInverseFrequencies
            let widest = states.map(\.rows).max() ?? 0
            let workspace = Workspace(layers: [layer], streamWidth: states[0].cols, rows: widest, keys: widest / batch)
            for g in states.indices {
                let length = states[g].rows / batch
                let key = frequencies + [Float(length)]
                let rope = tables[key] ?? RoPETable(inverseFrequencies: frequencies, positions: Array(0..<length))
                tables[key] = rope
                var stream = workspace.stream(holding: states[g])
                try layer.forward(&stream, context: LayerContext(index: index, norm: streamNorm,
                                                                 layout: .batched(batch: batch, length: length, firstPosition: 0, cache: nil),
                                                                 rope: rope, workspace: workspace, observer: nil))
                states[g] = stream.copy()
            }
            progress?(index + 1)
        }
        return try states.map { s in
            precondition(s.cols == hiddenSize, "the last layer leaves \(s.cols) values, the final norm takes \(hiddenSize)")
            return s.elements.withUnsafeBufferPointer { finalNormed($0.baseAddress!, rows: s.rows) }
        }
    }
}
