import LinAlg

extension MLP {
    /// The gated activations (the Wdown input, `width` wide) of `n` normalised rows in
    /// `context.workspace.normed`, written to `context.workspace.gated`.
    func gatedActivations(rows n: Int, inputWidth d: Int, context: LayerContext) throws {
        let workspace = context.workspace, f = width
        precondition(d == wGateUp.cols, "layer \(context.index)'s MLP reads \(wGateUp.cols) values, got \(d)")
        wGateUp.elements.withUnsafeBufferPointer { w in
            Float.gemm(transposeA: false, transposeB: true, m: n, n: 2 * f, k: d, alpha: 1, a: workspace.normed, lda: d,
                       b: w.baseAddress!, ldb: d, beta: 0, c: workspace.gateUp, ldc: 2 * f)
        }
        let tiles = Workers.rowTiles(n)
        Workers.run(tasks: tiles.count) { t, _ in
            let r = tiles[t]
            gatedActivation(workspace.gateUp + r.lowerBound * 2 * f, rows: r.count, width: f, kind: activation,
                            into: workspace.gated + r.lowerBound * f)
        }
        try context.observe(.downProjectionInput, workspace.gated, rows: n, width: f)
    }
}
