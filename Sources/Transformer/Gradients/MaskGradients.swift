import Foundation
import LinAlg

/// The gradient of a call's causal-LM loss with respect to channel masks (all ones) on
/// the inputs of every layer's Wo and Wdown: dL/dm_j = Σ_t z_tj·∂L/∂z_tj, z the module's
/// output-projection input. IntraSlice's global ratio estimator ranks channels by these.
public struct MaskGradients: Sendable {
    /// The loss: mean −log p(next token) over every position that has a next token in its
    /// own sequence (what transformers' `labels = input_ids` loss is).
    public let loss: Double
    /// Positions the loss averages over.
    public let predictedTokens: Int
    /// Per layer, one value per Wo input channel (`outputInputWidth`).
    public let outputProjection: [[Double]]
    /// Per layer, one value per Wdown input channel (the MLP width).
    public let downProjection: [[Double]]
}

extension TransformerModel {
    /// Reverse-mode pass over `batch` sequences of equal length (`tokens` one after
    /// another, from position 0). The forward pass keeps three row matrices per layer (its
    /// input, its head outputs and the stream after attention: `SavedLayerRows`); the
    /// backward pass forms Q, K, V and the MLP's gate/up rows again with the forward code
    /// and input gradients only, one layer at a time, last to first, so that a streamed
    /// model holds one layer's weights and one layer's intermediates. `progress` hears each layer done
    /// (forward: 1…L, backward: L+1…2L). `observer` watches the forward pass (the estimator
    /// takes its PCA covariances there).
    public func maskGradients(tokens: [Int32], batch: Int = 1, layers source: LayerSource? = nil, observer: ActivationObserver? = nil,
                              progress: ((Int) -> Void)? = nil) throws -> MaskGradients {
        precondition(batch > 0 && tokens.count % batch == 0, "\(tokens.count) tokens do not split into \(batch) sequences")
        let length = tokens.count / batch
        guard length >= 2 else { throw ForwardError(description: "a sequence of \(length) token(s) predicts nothing: the loss needs at least 2") }
        let source = source ?? ResidentLayers(layers)
        var saved: [SavedLayerRows?] = []
        var state = try embeddings(tokens)
        for index in 0..<source.layerCount {
            let step = try source.layer(index).forwardKeepingRows(state, batch: batch, index: index, norm: streamNorm, observer: observer)
            saved.append(step.saved)
            state = step.output
            progress?(index + 1)
        }
        let (loss, count, lastGradient) = try lossAndGradient(lastLayerOutput: state, tokens: tokens, length: length)
        var gradient = lastGradient
        var outputProjection = [[Double]](repeating: [], count: source.layerCount), downProjection = outputProjection
        for index in (0..<source.layerCount).reversed() {
            let result = try source.layer(index).backward(saved[index]!, outputGradient: gradient, batch: batch, index: index,
                                                          norm: streamNorm, needsInputGradient: index > 0)
            saved[index] = nil
            gradient = result.input ?? gradient
            outputProjection[index] = result.outputProjectionMask
            downProjection[index] = result.downProjectionMask
            progress?(2 * source.layerCount - index)
        }
        return MaskGradients(loss: loss, predictedTokens: count, outputProjection: outputProjection, downProjection: downProjection)
    }

    /// The mean next-token loss over the sequences of `length` in `tokens` and its gradient
    /// with respect to the last layer's output rows. Logits are formed a block of rows at
    /// a time (a 2048 × 49,152 logit matrix alone is 400 MB): dlogits = (softmax − onehot)/N,
    /// back through the head, then the final norm.
    func lossAndGradient(lastLayerOutput x: Matrix<Float>, tokens: [Int32], length: Int) throws -> (Double, Int, Matrix<Float>) {
        let rows = x.rows, d = hiddenSize, vocabulary = vocabularySize
        let hidden = x.elements.withUnsafeBufferPointer { finalNormed($0.baseAddress!, rows: rows) }
        let count = rows / length * (length - 1)
        let blockRows = 64
        var gHidden = Matrix<Float>(rows: rows, cols: d)
        var logits = Matrix<Float>(rows: blockRows, cols: vocabulary)
        var loss = 0.0
        let head = self.head
        for start in stride(from: 0, to: rows, by: blockRows) {
            let block = start..<min(rows, start + blockRows)
            var slice = Matrix<Float>(rows: block.count, cols: d, elements: Array(hidden.elements[(block.lowerBound * d)..<(block.upperBound * d)]))
            if block.count < blockRows { logits = Matrix(rows: block.count, cols: vocabulary) }
            gemm(slice, head, transposeB: true, into: &logits)
            var blockLoss = [Double](repeating: 0, count: block.count)
            logits.elements.withUnsafeMutableBufferPointer { pl in
                blockLoss.withUnsafeMutableBufferPointer { bl in
                    Workers.run(tasks: block.count) { i, _ in
                        let row = pl.baseAddress! + i * vocabulary, r = block.lowerBound + i
                        guard r % length < length - 1 else { row.update(repeating: 0, count: vocabulary); return }
                        let target = Int(tokens[r + 1])
                        let normaliser = logSumExp(row, count: vocabulary).value
                        bl[i] = normaliser - Double(row[target])
                        softmaxFromNormaliser(row, count: vocabulary, normaliser: Float(normaliser), scale: 1 / Float(count))
                        row[target] -= 1 / Float(count)
                    }
                }
            }
            loss += blockLoss.reduce(0, +)
            slice = matmul(logits, head)
            gHidden.elements.replaceSubrange((block.lowerBound * d)..<(block.upperBound * d), with: slice.elements)
        }
        var gradient = Matrix<Float>(rows: rows, cols: x.cols)
        x.elements.withUnsafeBufferPointer { px in
            gHidden.elements.withUnsafeBufferPointer { pg in
                finalNorm.withUnsafeBufferPointer { w in
                    gradient.elements.withUnsafeMutableBufferPointer { out in
                        rmsNormBackward(px.baseAddress!, rows: rows, width: x.cols, weight: w.baseAddress, eps: normEps, divisor: residualNormDivisor,
                                        gradient: pg.baseAddress!, into: out.baseAddress!, accumulate: false)
                    }
                }
            }
        }
        guard gradient.isFinite else { throw ForwardError(description: "the loss gradient at the last layer is NaN or Inf") }
        return (loss / Double(count), count, gradient)
    }
}
