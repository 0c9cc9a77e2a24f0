import LinAlg

/// Scoring tokens under the LM head: logits, negative log-likelihoods, argmax checks.
extension TransformerModel {
    /// Logits of the given rows of final hidden states ([rows, V]).
    public func logits(_ hidden: Matrix<Float>, rows: Range<Int>) -> Matrix<Float> {
        var out = Matrix<Float>(rows: rows.count, cols: vocabularySize)
        guard !rows.isEmpty else { return out }
        let d = hiddenSize
        hidden.elements.withUnsafeBufferPointer { h in
            head.elements.withUnsafeBufferPointer { w in
                out.elements.withUnsafeMutableBufferPointer { o in
                    Float.gemm(transposeA: false, transposeB: true, m: rows.count, n: vocabularySize, k: d, alpha: 1,
                               a: h.baseAddress! + rows.lowerBound * d, lda: d, b: w.baseAddress!, ldb: d,
                               beta: 0, c: o.baseAddress!, ldc: vocabularySize)
                }
            }
        }
        return out
    }

    /// −log p(targets[r]) under the logits of hidden row r, for rows whose target is ≥ 0
    /// (others give 0).
    public func negativeLogLikelihoods(hidden: Matrix<Float>, targets: [Int32], blockRows: Int = 64) -> [Double] {
        precondition(targets.count == hidden.rows, "one target per hidden row")
        let rows = targets.indices.filter { targets[$0] >= 0 }
        var result = [Double](repeating: 0, count: hidden.rows)
        for (row, score) in zip(rows, scoreTokens(hidden: hidden, rows: rows, targets: rows.map { targets[$0] }, blockRows: blockRows)) {
            result[row] = score.nll
        }
        return result
    }

    /// Scores token `targets[i]` under the logits of hidden row `rows[i]`. Logits are formed
    /// a block of rows at a time into one reused buffer: a 262k vocabulary times 2048
    /// positions would not fit in memory at once, and a fresh block per step would cost
    /// page faults on every allocation. Only the listed rows reach the LM head.
    public func scoreTokens(hidden: Matrix<Float>, rows: [Int], targets: [Int32], blockRows: Int = 64) -> [TokenScore] {
        precondition(rows.count == targets.count, "one target per listed row")
        let d = hiddenSize, vocabulary = vocabularySize
        let blockCapacity = min(blockRows, max(rows.count, 1))
        let inputs = UnsafeMutablePointer<Float>.allocate(capacity: blockCapacity * d)
        let block = UnsafeMutablePointer<Float>.allocate(capacity: blockCapacity * vocabulary)
        defer { inputs.deallocate(); block.deallocate() }
        var result: [TokenScore] = []
        result.reserveCapacity(rows.count)
        hidden.elements.withUnsafeBufferPointer { h in
            head.elements.withUnsafeBufferPointer { w in
                var start = 0
                while start < rows.count {
                    let end = min(rows.count, start + blockCapacity)
                    for i in start..<end { (inputs + (i - start) * d).update(from: h.baseAddress! + rows[i] * d, count: d) }
                    Float.gemm(transposeA: false, transposeB: true, m: end - start, n: vocabulary, k: d, alpha: 1,
                               a: inputs, lda: d, b: w.baseAddress!, ldb: d, beta: 0, c: block, ldc: vocabulary)
                    for i in start..<end {
                        let logits = block + (i - start) * vocabulary
                        let target = logits[Int(targets[i])]
                        let normaliser = logSumExp(logits, count: vocabulary)
                        result.append(TokenScore(nll: normaliser.value - Double(target), isArgmax: target >= normaliser.maximum))
                    }
                    start = end
                }
            }
        }
        return result
    }
}

/// How well the model predicts one token.
public struct TokenScore: Sendable, Equatable {
    /// −log p(token).
    public let nll: Double
    /// Whether the token has the highest logit (greedy decoding would pick it).
    public let isArgmax: Bool
}
