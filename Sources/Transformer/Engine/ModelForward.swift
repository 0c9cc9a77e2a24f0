import LinAlg

extension TransformerModel {
    /// The residual-stream norm settings every layer of this model uses.
    public var streamNorm: StreamNorm { StreamNorm(eps: normEps, divisor: residualNormDivisor) }

    /// Runs `batch` sequences of equal length (`tokens` holds them one after another) and
    /// returns the final-normed hidden states, one row per token ([batch·length, D]).
    /// With a cache, the tokens continue the cached sequences and are appended to it.
    public func hiddenStates(tokens: [Int32], batch: Int = 1, cache: KVCache? = nil,
                             observer: ActivationObserver? = nil) throws -> Matrix<Float> {
        precondition(batch > 0 && tokens.count % batch == 0, "\(tokens.count) tokens do not split into \(batch) sequences")
        let length = tokens.count / batch
        let firstPosition = cache?.length ?? 0
        if let cache {
            guard cache.batch == batch else { throw ForwardError(description: "KV cache holds \(cache.batch) sequences, got \(batch)") }
            guard firstPosition + length <= cache.capacity else {
                throw ForwardError(description: "KV cache of \(cache.capacity) positions cannot take \(length) more after \(firstPosition)")
            }
        }
        let hidden = try forward(tokens, layout: .batched(batch: batch, length: length, firstPosition: firstPosition, cache: cache),
                                 observer: observer)
        cache?.advance(by: length)
        return hidden
    }

    /// Final-normed hidden states of packed documents, one row per packed row.
    public func hiddenStates(packed: PackedSequences, observer: ActivationObserver? = nil) throws -> Matrix<Float> {
        try forward(packed.tokens, layout: .packed(packed), observer: observer)
    }

    /// Embedding, then the layers one after another, then the final norm.
    private func forward(_ tokens: [Int32], layout: RowLayout, observer: ActivationObserver?) throws -> Matrix<Float> {
        let workspace = Workspace(layers: layers, streamWidth: max(embeddingWidth, hiddenSize), rows: tokens.count, keys: layout.maximumKeys)
        var stream = workspace.stream(rows: tokens.count, width: embeddingWidth)
        try embed(tokens, into: stream.values)
        let positions = layout.positionRuns.positions
        var tables: [[Float]: RoPETable] = [:]
        for (index, layer) in layers.enumerated() {
            let frequencies = layer.attention.ropeInverseFrequencies
            let rope = tables[frequencies] ?? RoPETable(inverseFrequencies: frequencies, positions: positions)
            tables[frequencies] = rope
            try layer.forward(&stream, context: LayerContext(index: index, norm: streamNorm, layout: layout, rope: rope,
                                                             workspace: workspace, observer: observer))
        }
        precondition(stream.width == hiddenSize, "the last layer leaves \(stream.width) values, the final norm takes \(hiddenSize)")
        return finalNormed(stream.values, rows: tokens.count)
    }

    /// The final norm of `rows` rows of the last layer's output.
    func finalNormed(_ x: UnsafePointer<Float>, rows: Int) -> Matrix<Float> {
        var out = Matrix<Float>(rows: rows, cols: hiddenSize)
        finalNorm.withUnsafeBufferPointer { w in
            out.elements.withUnsafeMutableBufferPointer { po in
                rmsNorm(x, rows: rows, width: hiddenSize, weight: w.baseAddress, eps: normEps, divisor: residualNormDivisor, into: po.baseAddress!)
            }
        }
        return out
    }

    /// Embedding rows of the tokens, scaled by `embeddingScale` ([tokens, embedding width]):
    /// the residual stream entering layer 0.
    public func embeddings(_ tokens: [Int32]) throws -> Matrix<Float> {
        var x = Matrix<Float>(rows: tokens.count, cols: embeddingWidth)
        try x.elements.withUnsafeMutableBufferPointer { try embed(tokens, into: $0.baseAddress!) }
        return x
    }

    private func embed(_ tokens: [Int32], into x: UnsafeMutablePointer<Float>) throws {
        let d = embeddingWidth, vocabulary = vocabularySize
        try embedding.elements.withUnsafeBufferPointer { e in
            for (r, token) in tokens.enumerated() {
                guard token >= 0 && Int(token) < vocabulary else {
                    throw ForwardError(description: "token id \(token) is outside the vocabulary of \(vocabulary)")
                }
                let row = e.baseAddress! + Int(token) * d, out = x + r * d
                for j in 0..<d { out[j] = row[j] * embeddingScale }
            }
        }
    }
}
