import LinAlg

/// What the reverse pass keeps of one layer from its forward pass: the rows entering it
/// (x), the head outputs (Z, the Wo input) and the stream after attention (x′). Everything
/// else is formed again when the backward pass reaches the layer.
struct SavedLayerRows {
    let input: Matrix<Float>
    let heads: Matrix<Float>
    let middle: Matrix<Float>
}

/// What the reverse pass through one decoder layer returns.
struct LayerGradients {
    /// dL/d(layer input), [rows, input width] (nil when not asked for: the first layer's).
    let input: Matrix<Float>?
    /// dL/dm for a channel mask (all ones) on the Wo input (`outputInputWidth` values).
    let outputProjectionMask: [Double]
    /// dL/dm for a channel mask on the Wdown input (`mlp.width` values).
    let downProjectionMask: [Double]
}

extension DecoderLayer {
    /// Runs the layer forward on `x` (`batch` sequences from position 0) with the forward
    /// code, keeping what the reverse pass reads later; returns those rows and the output.
    func forwardKeepingRows(_ x: Matrix<Float>, batch: Int, index: Int, norm: StreamNorm,
                            observer: ActivationObserver?) throws -> (saved: SavedLayerRows, output: Matrix<Float>) {
        let heads = try outputProjectionInputs(states: x, batch: batch, index: index, norm: norm, observer: observer)
        let middle = try completeAttention(woInput: heads, residual: x, index: index, norm: norm)
        let output = try mlpHalf(states: middle, index: index, norm: norm, observer: observer)
        return (SavedLayerRows(input: x, heads: heads, middle: middle), output)
    }

    /// Reverse mode through this layer from its saved rows: Q, K and V are formed again
    /// from x and the MLP's gate/up rows from x′ with the forward code itself, and only input
    /// gradients are formed. `g` is dL/d(layer output).
    func backward(_ saved: SavedLayerRows, outputGradient g: Matrix<Float>, batch: Int, index: Int, norm: StreamNorm,
                  needsInputGradient: Bool = true) throws -> LayerGradients {
        let x = saved.input, middle = saved.middle, heads = saved.heads, n = x.rows
        precondition(g.rows == n && g.cols == outputWidth && x.cols == inputWidth, "layer \(index): gradient rows do not match the layer")
        let (context, stream) = prepare(middle, batch: batch, index: index, norm: norm, observer: nil)
        let workspace = context.workspace
        var s = stream
        try mlpHalf(&s, context: context, throughDownProjection: false)
        // The workspace now holds the MLP's gate/up rows and gated activations.

        // MLP half: out = shortcut(x′) + postNorm(Z_mlp·Wdownᵀ), Z_mlp = act(N2(x′)·Wgateᵀ) ⊙ N2(x′)·Wupᵀ.
        var gMiddle = mlpShortcut.map { matmul(g, $0) } ?? g
        let f = mlp.width
        let gProjected = postMLPNorm.map { weight -> Matrix<Float> in
            let projected = matmul(workspace.copy(workspace.gated, rows: n, width: f), mlp.wDown, transposeB: true)
            return projected.elements.withUnsafeBufferPointer { pp in
                normBackward(pp.baseAddress!, rows: n, width: outputWidth, weight: weight, eps: norm.eps, divisor: nil, gradient: g)
            }
        } ?? g
        let gGated = matmul(gProjected, mlp.wDown)
        let downMask = gGated.elements.withUnsafeBufferPointer { columnDotProducts(workspace.gated, $0.baseAddress!, rows: n, width: f) }
        var gGateUp = Matrix<Float>(rows: n, cols: 2 * f)
        eachRowTile(n) { r in
            gGated.elements.withUnsafeBufferPointer { pg in
                gGateUp.elements.withUnsafeMutableBufferPointer { out in
                    gatedActivationBackward(workspace.gateUp + r.lowerBound * 2 * f, rows: r.count, width: f, kind: mlp.activation,
                                            gradient: pg.baseAddress! + r.lowerBound * f, into: out.baseAddress! + r.lowerBound * 2 * f)
                }
            }
        }
        let gNormed2 = matmul(gGateUp, mlp.wGateUp)
        middle.elements.withUnsafeBufferPointer { pm in
            addNormBackward(pm.baseAddress!, rows: n, width: middleWidth, weight: mlpNorm, eps: norm.eps, divisor: norm.divisor,
                            gradient: gNormed2, into: &gMiddle)
        }

        // Attention half: x′ = shortcut(x) + postNorm(Z·Woᵀ), Z the head outputs.
        let gProjectedAttention = postAttentionNorm.map { weight -> Matrix<Float> in
            let projected = matmul(heads, attention.wo, transposeB: true)
            return projected.elements.withUnsafeBufferPointer { pp in
                normBackward(pp.baseAddress!, rows: n, width: middleWidth, weight: weight, eps: norm.eps, divisor: nil, gradient: gMiddle)
            }
        } ?? gMiddle
        let gHeads = matmul(gProjectedAttention, attention.wo)
        let outputMask = heads.elements.withUnsafeBufferPointer { pz in
            gHeads.elements.withUnsafeBufferPointer { columnDotProducts(pz.baseAddress!, $0.baseAddress!, rows: n, width: attention.outputInputWidth) }
        }
        guard needsInputGradient else { return LayerGradients(input: nil, outputProjectionMask: outputMask, downProjectionMask: downMask) }
        var gX = attentionShortcut.map { matmul(gMiddle, $0) } ?? gMiddle
        // Q, K and V again, from x, into the workspace (the MLP is done with it).
        let attentionStream = workspace.stream(holding: x)
        normalise(attentionStream, weight: attentionNorm, context: context)
        try attention.queriesKeysValues(rows: n, inputWidth: inputWidth, context: context)
        var gQKV = Matrix<Float>(rows: n, cols: attention.fusedWidth)
        heads.elements.withUnsafeBufferPointer { pz in
            gHeads.elements.withUnsafeBufferPointer { pg in
                gQKV.elements.withUnsafeMutableBufferPointer { out in
                    attention.headOutputsBackward(qkv: workspace.qkv, z: pz.baseAddress!, dz: pg.baseAddress!, batch: batch, length: n / batch,
                                                  into: out.baseAddress!)
                }
            }
        }
        try attention.queryKeyPreparationBackward(&gQKV, input: x, attentionNorm: attentionNorm, batch: batch, context: context)
        let gNormed1 = matmul(gQKV, attention.wqkv)
        x.elements.withUnsafeBufferPointer { px in
            addNormBackward(px.baseAddress!, rows: n, width: inputWidth, weight: attentionNorm, eps: norm.eps, divisor: norm.divisor,
                            gradient: gNormed1, into: &gX)
        }
        // A gradient gone NaN or Inf would give every importance the same meaningless value.
        guard gX.isFinite else { throw ForwardError(description: "layer \(index): the reverse pass produced NaN or Inf gradients") }
        return LayerGradients(input: gX, outputProjectionMask: outputMask, downProjectionMask: downMask)
    }
}

extension Attention {
    /// The reverse of the biases, q/k norms and RoPE that `headOutputs` applies to the QKV
    /// rows: `gradient` holds dL/d(Q, K after RoPE) and becomes dL/d(N1(x)·Wqkvᵀ). Biases
    /// pass gradients through; the q/k norms need their inputs, formed again from x.
    func queryKeyPreparationBackward(_ gradient: inout Matrix<Float>, input x: Matrix<Float>, attentionNorm: [Float], batch: Int,
                                     context: LayerContext) throws {
        let n = x.rows, length = n / batch, width = fusedWidth, dqk = qkHeadDim
        let segments = ropeSegments
        gradient.elements.withUnsafeMutableBufferPointer { pg in
            for b in 0..<batch {
                let rows = pg.baseAddress! + b * length * width
                context.rope.apply(rows, rows: length, stride: width, heads: numHeads, headHalf: dqk / 2, segments: segments?.queryHeads,
                                   inverse: true)
                context.rope.apply(rows + queryWidth, rows: length, stride: width, heads: numKVHeads, headHalf: dqk / 2,
                                   segments: segments?.kvHeads, inverse: true)
            }
        }
        guard qNorm != nil || kNorm != nil else { return }
        // Q and K before their norms: N1(x)·Wq,kᵀ + b, from the forward pass's own kernels.
        var normed = Matrix<Float>(rows: n, cols: x.cols)
        x.elements.withUnsafeBufferPointer { px in
            attentionNorm.withUnsafeBufferPointer { w in
                normed.elements.withUnsafeMutableBufferPointer {
                    rmsNorm(px.baseAddress!, rows: n, width: x.cols, weight: w.baseAddress, eps: context.norm.eps, divisor: context.norm.divisor,
                            into: $0.baseAddress!)
                }
            }
        }
        let queryKeyWidth = queryWidth + keyWidth
        var before = matmul(normed, Matrix(rows: queryKeyWidth, cols: x.cols, elements: Array(wqkv.elements[0..<(queryKeyWidth * x.cols)])),
                            transposeB: true)
        if let bqkv {
            for r in 0..<n { for j in 0..<queryKeyWidth { before.elements[r * queryKeyWidth + j] += bqkv[j] } }
        }
        for (norm, offset, count) in [(qNorm, 0, numHeads), (kNorm, queryWidth, numKVHeads)] {
            guard let norm else { continue }
            var headInput = [Float](repeating: 0, count: count * dqk), headGradient = headInput
            for r in 0..<n {
                for j in 0..<(count * dqk) {
                    headInput[j] = before.elements[r * queryKeyWidth + offset + j]
                    headGradient[j] = gradient.elements[r * width + offset + j]
                }
                norm.withUnsafeBufferPointer { w in
                    gradient.elements.withUnsafeMutableBufferPointer { pg in
                        rmsNormBackward(headInput, rows: count, width: dqk, weight: w.baseAddress, eps: context.norm.eps, gradient: headGradient,
                                        into: pg.baseAddress! + r * width + offset, accumulate: false)
                    }
                }
            }
        }
    }
}

/// dL/d(norm input) of an RMSNorm with `weight`, from its input rows and dL/d(output).
private func normBackward(_ x: UnsafePointer<Float>, rows: Int, width: Int, weight: [Float], eps: Float, divisor: Int?,
                          gradient: Matrix<Float>) -> Matrix<Float> {
    var out = Matrix<Float>(rows: rows, cols: width)
    addNormBackward(x, rows: rows, width: width, weight: weight, eps: eps, divisor: divisor, gradient: gradient, into: &out, accumulate: false)
    return out
}

/// Adds dL/d(norm input) of an RMSNorm to `total` (the residual path's gradient), or
/// writes it there when not `accumulate`.
private func addNormBackward(_ x: UnsafePointer<Float>, rows: Int, width: Int, weight: [Float], eps: Float, divisor: Int?,
                             gradient: Matrix<Float>, into total: inout Matrix<Float>, accumulate: Bool = true) {
    gradient.elements.withUnsafeBufferPointer { pg in
        weight.withUnsafeBufferPointer { w in
            total.elements.withUnsafeMutableBufferPointer { pt in
                eachRowTile(rows) { r in
                    rmsNormBackward(x + r.lowerBound * width, rows: r.count, width: width, weight: w.baseAddress, eps: eps, divisor: divisor,
                                    gradient: pg.baseAddress! + r.lowerBound * width, into: pt.baseAddress! + r.lowerBound * width,
                                    accumulate: accumulate)
                }
            }
        }
    }
}

/// Row-independent work spread over the workers in tiles of rows.
private func eachRowTile(_ rows: Int, _ body: (Range<Int>) -> Void) {
    let tiles = Workers.rowTiles(rows)
    Workers.run(tasks: tiles.count) { t, _ in body(tiles[t]) }
}
