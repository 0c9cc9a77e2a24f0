import LinAlg

/// One layer run alone on given residual-stream rows, in halves: compression runs its
/// calibration data through a model one half-layer at a time, and can run a candidate
/// layer (one no model holds yet) the same way. Rows are `batch` sequences of equal
/// length starting at position 0.
extension DecoderLayer {
    /// The stream after the attention output joined it ([rows, middle width]).
    public func attentionHalf(states: Matrix<Float>, batch: Int, index: Int, norm: StreamNorm,
                              observer: ActivationObserver? = nil) throws -> Matrix<Float> {
        let (context, stream) = prepare(states, batch: batch, index: index, norm: norm, observer: observer)
        var s = stream
        try attentionHalf(&s, context: context)
        return s.copy()
    }

    /// The attention up to its output projection: the Wo input rows ([rows, outputInputWidth]).
    public func outputProjectionInputs(states: Matrix<Float>, batch: Int, index: Int, norm: StreamNorm,
                                       observer: ActivationObserver? = nil) throws -> Matrix<Float> {
        let (context, stream) = prepare(states, batch: batch, index: index, norm: norm, observer: observer)
        var s = stream
        try attentionHalf(&s, context: context, throughOutputProjection: false)
        return context.workspace.copy(context.workspace.heads, rows: states.rows, width: attention.outputInputWidth)
    }

    /// The layer's output rows from the stream after attention ([rows, middle width]).
    /// Rows are independent here, so any batching works.
    public func mlpHalf(states: Matrix<Float>, index: Int, norm: StreamNorm, observer: ActivationObserver? = nil) throws -> Matrix<Float> {
        let (context, stream) = prepare(states, batch: 1, attends: false, index: index, norm: norm, observer: observer)
        var s = stream
        try mlpHalf(&s, context: context)
        return s.copy()
    }

    /// The MLP up to its down projection: the Wdown input rows ([rows, MLP width]).
    public func downProjectionInputs(states: Matrix<Float>, index: Int, norm: StreamNorm,
                                     observer: ActivationObserver? = nil) throws -> Matrix<Float> {
        let (context, stream) = prepare(states, batch: 1, attends: false, index: index, norm: norm, observer: observer)
        var s = stream
        try mlpHalf(&s, context: context, throughDownProjection: false)
        return context.workspace.copy(context.workspace.gated, rows: states.rows, width: mlp.width)
    }

    /// The end of the attention half from given Wo inputs: the residual rows (through the
    /// attention shortcut, if any) plus postNorm(woInput·Woᵀ). Compression uses it when it
    /// already holds the Wo inputs of a compressed attention, to skip a rerun.
    public func completeAttention(woInput: Matrix<Float>, residual: Matrix<Float>, index: Int, norm: StreamNorm) throws -> Matrix<Float> {
        precondition(woInput.rows == residual.rows && woInput.cols == attention.outputInputWidth && residual.cols == inputWidth,
                     "layer \(index): Wo inputs \(woInput.rows)×\(woInput.cols) and residual \(residual.rows)×\(residual.cols) do not fit")
        let (context, stream) = prepare(residual, batch: 1, attends: false, index: index, norm: norm, observer: nil)
        var s = stream
        try woInput.elements.withUnsafeBufferPointer { try completeAttention(&s, heads: $0.baseAddress!, context: context) }
        return s.copy()
    }

    /// The end of the MLP half from given Wdown inputs (see `completeAttention`).
    public func completeMLP(downInput: Matrix<Float>, residual: Matrix<Float>, index: Int, norm: StreamNorm) throws -> Matrix<Float> {
        precondition(downInput.rows == residual.rows && downInput.cols == mlp.width && residual.cols == middleWidth,
                     "layer \(index): Wdown inputs \(downInput.rows)×\(downInput.cols) and residual \(residual.rows)×\(residual.cols) do not fit")
        let (context, stream) = prepare(residual, batch: 1, attends: false, index: index, norm: norm, observer: nil)
        var s = stream
        try downInput.elements.withUnsafeBufferPointer { try completeMLP(&s, gated: $0.baseAddress!, context: context) }
        return s.copy()
    }

    /// A context for this layer alone over `states` (positions from 0 in each of `batch`
    /// sequences), and the stream holding a copy of them. Runs that do not attend (the MLP
    /// half, the ends of either half) get no RoPE table and no score scratch: their rows are
    /// independent, and a table for thousands of calibration rows would be computed for
    /// nothing on every call.
    func prepare(_ states: Matrix<Float>, batch: Int, attends: Bool = true, index: Int, norm: StreamNorm,
                         observer: ActivationObserver?) -> (LayerContext, ResidualStream) {
        precondition(batch > 0 && states.rows % batch == 0, "\(states.rows) rows do not split into \(batch) sequences")
        let length = states.rows / batch
        let workspace = Workspace(layers: [self], streamWidth: states.cols, rows: states.rows, keys: attends ? length : 1)
        let rope = attends ? RoPETable.fromPositionZero(inverseFrequencies: attention.ropeInverseFrequencies, length: length)
                           : RoPETable(inverseFrequencies: attention.ropeInverseFrequencies, positions: [])
        let context = LayerContext(index: index, norm: norm, layout: .batched(batch: batch, length: length, firstPosition: 0, cache: nil),
                                   rope: rope, workspace: workspace, observer: observer)
        return (context, workspace.stream(holding: states))
    }
}

/// The same half-layers by layer index of a model.
extension TransformerModel {
    public func attentionHalf(_ index: Int, states: Matrix<Float>, batch: Int, observer: ActivationObserver? = nil) throws -> Matrix<Float> {
        try layers[index].attentionHalf(states: states, batch: batch, index: index, norm: streamNorm, observer: observer)
    }

    public func outputProjectionInputs(_ index: Int, states: Matrix<Float>, batch: Int, observer: ActivationObserver? = nil) throws -> Matrix<Float> {
        try layers[index].outputProjectionInputs(states: states, batch: batch, index: index, norm: streamNorm, observer: observer)
    }

    public func mlpHalf(_ index: Int, states: Matrix<Float>, observer: ActivationObserver? = nil) throws -> Matrix<Float> {
        try layers[index].mlpHalf(states: states, index: index, norm: streamNorm, observer: observer)
    }

    public func downProjectionInputs(_ index: Int, states: Matrix<Float>, observer: ActivationObserver? = nil) throws -> Matrix<Float> {
        try layers[index].downProjectionInputs(states: states, index: index, norm: streamNorm, observer: observer)
    }

    public func completeAttention(_ index: Int, woInput: Matrix<Float>, residual: Matrix<Float>) throws -> Matrix<Float> {
        try layers[index].completeAttention(woInput: woInput, residual: residual, index: index, norm: streamNorm)
    }

    public func completeMLP(_ index: Int, downInput: Matrix<Float>, residual: Matrix<Float>) throws -> Matrix<Float> {
        try layers[index].completeMLP(downInput: downInput, residual: residual, index: index, norm: streamNorm)
    }
}
