import LinAlg

extension DecoderLayer {
    /// x + Attn(N1(x)) then + MLP(N2(·)) on the stream, in place.
    func forward(_ stream: inout ResidualStream, context: LayerContext) throws {
        try attentionHalf(&stream, context: context)
        try mlpHalf(&stream, context: context)
        try context.observe(.residualOut, stream.values, rows: stream.rows, width: stream.width)
    }

    /// The attention half on the stream; with `throughOutputProjection` false it stops once
    /// the head outputs are in the workspace and leaves the stream as it was.
    func attentionHalf(_ stream: inout ResidualStream, context: LayerContext, throughOutputProjection: Bool = true) throws {
        let n = stream.rows, d = stream.width
        precondition(d == inputWidth, "layer \(context.index) reads \(inputWidth) values, the stream has \(d)")
        try context.observe(.residualIn, stream.values, rows: n, width: d)
        normalise(stream, weight: attentionNorm, context: context)
        try context.observe(.attentionNormOutput, context.workspace.normed, rows: n, width: d)
        try attention.headOutputs(rows: n, inputWidth: d, context: context)
        guard throughOutputProjection else { return }
        try completeAttention(&stream, heads: context.workspace.heads, context: context)
    }

    /// The MLP half on the stream; with `throughDownProjection` false it stops once the
    /// gated activations are in the workspace and leaves the stream as it was.
    func mlpHalf(_ stream: inout ResidualStream, context: LayerContext, throughDownProjection: Bool = true) throws {
        let n = stream.rows, d = stream.width
        precondition(d == middleWidth, "layer \(context.index)'s MLP reads \(middleWidth) values, the stream has \(d)")
        try context.observe(.residualMid, stream.values, rows: n, width: d)
        normalise(stream, weight: mlpNorm, context: context)
        try context.observe(.mlpNormOutput, context.workspace.normed, rows: n, width: d)
        try mlp.gatedActivations(rows: n, inputWidth: d, context: context)
        guard throughDownProjection else { return }
        try completeMLP(&stream, gated: context.workspace.gated, context: context)
    }

    /// The end of the attention half from given Wo inputs: the stream (through the
    /// attention shortcut, if any) plus postNorm(heads·Woᵀ).
    func completeAttention(_ stream: inout ResidualStream, heads: UnsafePointer<Float>, context: LayerContext) throws {
        if let attentionShortcut { stream.apply(shortcut: attentionShortcut) }
        project(heads, inWidth: attention.outputInputWidth, weight: attention.wo, postNorm: postAttentionNorm, into: stream, context: context)
        try context.checkFinite(stream, after: "attention")
    }

    /// The end of the MLP half from given Wdown inputs (see `completeAttention`).
    func completeMLP(_ stream: inout ResidualStream, gated: UnsafePointer<Float>, context: LayerContext) throws {
        if let mlpShortcut { stream.apply(shortcut: mlpShortcut) }
        project(gated, inWidth: mlp.width, weight: mlp.wDown, postNorm: postMLPNorm, into: stream, context: context)
        try context.checkFinite(stream, after: "MLP")
    }

    /// RMSNorm of the stream's rows into the workspace's `normed` buffer.
    func normalise(_ stream: ResidualStream, weight: [Float], context: LayerContext) {
        let d = stream.width, normed = context.workspace.normed
        let tiles = Workers.rowTiles(stream.rows)
        weight.withUnsafeBufferPointer { w in
            Workers.run(tasks: tiles.count) { t, _ in
                let r = tiles[t]
                rmsNorm(stream.values + r.lowerBound * d, rows: r.count, width: d, weight: w.baseAddress, eps: context.norm.eps,
                        divisor: context.norm.divisor, into: normed + r.lowerBound * d)
            }
        }
    }

    /// x += postNorm(input · Wᵀ); without a post-norm the product accumulates straight into x.
    private func project(_ input: UnsafePointer<Float>, inWidth: Int, weight: Matrix<Float>, postNorm: [Float]?,
                         into stream: ResidualStream, context: LayerContext) {
        let n = stream.rows, d = stream.width, x = stream.values
        precondition(weight.rows == d, "a projection writes \(weight.rows) values into a stream of \(d)")
        weight.elements.withUnsafeBufferPointer { w in
            guard let postNorm else {
                Float.gemm(transposeA: false, transposeB: true, m: n, n: d, k: inWidth, alpha: 1, a: input, lda: inWidth,
                           b: w.baseAddress!, ldb: inWidth, beta: 1, c: x, ldc: d)
                return
            }
            let p = context.workspace.projected
            Float.gemm(transposeA: false, transposeB: true, m: n, n: d, k: inWidth, alpha: 1, a: input, lda: inWidth,
                       b: w.baseAddress!, ldb: inWidth, beta: 0, c: p, ldc: d)
            postNorm.withUnsafeBufferPointer { rmsNorm(p, rows: n, width: d, weight: $0.baseAddress, eps: context.norm.eps, into: p) }
            for i in 0..<(n * d) { x[i] += p[i] }
        }
    }
}
