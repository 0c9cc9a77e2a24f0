import Foundation
import LinAlg

/// How the rows of a forward call form sequences.
enum RowLayout {
    /// `batch` sequences of `length` rows each at positions `firstPosition`…, continuing
    /// the cached sequences when there is a cache.
    case batched(batch: Int, length: Int, firstPosition: Int, cache: KVCache?)
    /// Documents of trunks and branches (see `PackedSequences`).
    case packed(PackedSequences)

    /// Keys one query row may see at most: the attention scratch is sized by it.
    var maximumKeys: Int {
        switch self {
        case .batched(_, let length, let firstPosition, _): return firstPosition + length
        case .packed(let packed): return packed.widestDocument
        }
    }

    /// Positions of the rows of one run, and how many runs of that shape follow each other.
    var positionRuns: (positions: [Int], runs: Int) {
        switch self {
        case .batched(let batch, let length, let firstPosition, _): return (Array(firstPosition..<(firstPosition + length)), batch)
        case .packed(let packed): return (packed.positions, 1)
        }
    }
}

/// Scratch buffers of one forward call, sized for its largest layer. Raw allocations:
/// the layer code works on pointers, and nothing here needs zeroing.
private final class Workspace {
    let residual, spare, normed, qkv, heads, projected, gateUp, gated, scores: UnsafeMutablePointer<Float>
    /// Threads that attend to different heads at the same time, each with its own scores.
    let attentionWorkers: Int
    let scoresPerWorker: Int

    init(model: TransformerModel, rows n: Int, keys: Int) {
        attentionWorkers = max(1, BLASThreads.count)
        let d = model.widestResidual
        let widest = model.layers.map(\.attention.fusedWidth).max() ?? 0
        let headsWidth = model.layers.map(\.attention.outputInputWidth).max() ?? 0
        let mlpWidth = model.layers.map(\.mlp.width).max() ?? 0
        residual = .allocate(capacity: n * d)
        spare = .allocate(capacity: n * d)
        normed = .allocate(capacity: n * d)
        qkv = .allocate(capacity: n * widest)
        heads = .allocate(capacity: n * headsWidth)
        projected = .allocate(capacity: n * d)
        gateUp = .allocate(capacity: n * 2 * mlpWidth)
        gated = .allocate(capacity: n * mlpWidth)
        scoresPerWorker = attentionQueryBlock * keys
        scores = .allocate(capacity: attentionWorkers * scoresPerWorker)
    }

    deinit { [residual, spare, normed, qkv, heads, projected, gateUp, gated, scores].forEach { $0.deallocate() } }

    /// The residual stream, `rows` × `width` values in `residual`.
    func stream(rows: Int, width: Int) -> ResidualStream {
        ResidualStream(values: residual, spare: spare, rows: rows, width: width)
    }
}

/// The residual stream of a forward call: `rows` × `width` values. Its width changes only
/// at SliceGPT's shortcut matrices, which write into the spare buffer and swap.
private struct ResidualStream {
    var values: UnsafeMutablePointer<Float>
    var spare: UnsafeMutablePointer<Float>
    let rows: Int
    var width: Int

    /// x ← x·Sᵀ, S of shape [new width, width].
    mutating func apply(shortcut: Matrix<Float>) {
        precondition(shortcut.cols == width, "shortcut reads \(shortcut.cols) values, the stream has \(width)")
        shortcut.elements.withUnsafeBufferPointer { s in
            Float.gemm(transposeA: false, transposeB: true, m: rows, n: shortcut.rows, k: width, alpha: 1, a: values, lda: width,
                       b: s.baseAddress!, ldb: width, beta: 0, c: spare, ldc: shortcut.rows)
        }
        swap(&values, &spare)
        width = shortcut.rows
    }

    func copy() -> Matrix<Float> {
        Matrix(rows: rows, cols: width, elements: Array(UnsafeBufferPointer(start: values, count: rows * width)))
    }
}

extension TransformerModel {
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

    private func forward(_ tokens: [Int32], layout: RowLayout, observer: ActivationObserver?) throws -> Matrix<Float> {
        let workspace = Workspace(model: self, rows: tokens.count, keys: layout.maximumKeys)
        var stream = workspace.stream(rows: tokens.count, width: embeddingWidth)
        try embed(tokens, into: stream.values)
        let positions = layout.positionRuns.positions
        var tables: [[Float]: RoPETable] = [:]
        for index in layers.indices {
            let frequencies = layers[index].attention.ropeInverseFrequencies
            if tables[frequencies] == nil {
                tables[frequencies] = RoPETable(inverseFrequencies: frequencies, positions: positions)
            }
            try attentionBlock(index, stream: &stream, layout: layout, rope: tables[frequencies]!, observer: observer, workspace: workspace)
            try mlpBlock(index, stream: &stream, observer: observer, workspace: workspace)
            try observe(observer, index, .layerOutput, stream.values, rows: stream.rows, width: stream.width)
        }
        precondition(stream.width == hiddenSize, "the last layer leaves \(stream.width) values, the final norm takes \(hiddenSize)")
        var out = Matrix<Float>(rows: tokens.count, cols: hiddenSize)
        finalNorm.withUnsafeBufferPointer { w in
            out.elements.withUnsafeMutableBufferPointer { po in
                rmsNorm(stream.values, rows: tokens.count, width: hiddenSize, weight: w.baseAddress, eps: normEps,
                        divisor: residualNormDivisor, into: po.baseAddress!)
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

    /// The attention half of layer `index` alone: `states` are residual-stream rows of
    /// `batch` sequences of equal length starting at position 0 ([batch·length, input
    /// width]); returns the stream after the attention output joined it. Compression runs
    /// calibration data through a model one half-layer at a time with this.
    public func attentionHalf(_ index: Int, states: Matrix<Float>, batch: Int, observer: ActivationObserver? = nil) throws -> Matrix<Float> {
        try runAttention(index, states: states, batch: batch, observer: observer, throughOutputProjection: true) { stream, _ in stream.copy() }
    }

    /// Layer `index`'s attention up to its output projection: the Wo input rows
    /// ([batch·length, outputInputWidth]), for compression steps that need no more.
    public func outputProjectionInputs(_ index: Int, states: Matrix<Float>, batch: Int, observer: ActivationObserver? = nil) throws -> Matrix<Float> {
        let width = layers[index].attention.outputInputWidth
        return try runAttention(index, states: states, batch: batch, observer: observer, throughOutputProjection: false) { stream, workspace in
            Matrix(rows: stream.rows, cols: width, elements: Array(UnsafeBufferPointer(start: workspace.heads, count: stream.rows * width)))
        }
    }

    private func runAttention(_ index: Int, states: Matrix<Float>, batch: Int, observer: ActivationObserver?, throughOutputProjection: Bool,
                              result: (ResidualStream, Workspace) -> Matrix<Float>) throws -> Matrix<Float> {
        precondition(batch > 0 && states.rows % batch == 0, "\(states.rows) rows do not split into \(batch) sequences")
        precondition(states.cols == layers[index].inputWidth, "layer \(index) reads \(layers[index].inputWidth) values, got \(states.cols)")
        let length = states.rows / batch
        let layout = RowLayout.batched(batch: batch, length: length, firstPosition: 0, cache: nil)
        let workspace = Workspace(model: self, rows: states.rows, keys: length)
        var stream = workspace.stream(rows: states.rows, width: states.cols)
        states.elements.withUnsafeBufferPointer { stream.values.update(from: $0.baseAddress!, count: $0.count) }
        let rope = RoPETable(inverseFrequencies: layers[index].attention.ropeInverseFrequencies, positions: Array(0..<length))
        try attentionBlock(index, stream: &stream, layout: layout, rope: rope, observer: observer, workspace: workspace,
                           throughOutputProjection: throughOutputProjection)
        return result(stream, workspace)
    }

    /// The MLP half of layer `index` alone, on residual-stream rows ([rows, middle width]);
    /// returns the layer's output rows. Rows are independent here, so any batching works.
    public func mlpHalf(_ index: Int, states: Matrix<Float>, observer: ActivationObserver? = nil) throws -> Matrix<Float> {
        try runMLP(index, states: states, observer: observer, throughDownProjection: true) { stream, _ in stream.copy() }
    }

    /// Layer `index`'s MLP up to its down projection: the Wdown input rows ([rows, MLP width]).
    public func downProjectionInputs(_ index: Int, states: Matrix<Float>, observer: ActivationObserver? = nil) throws -> Matrix<Float> {
        let width = layers[index].mlp.width
        return try runMLP(index, states: states, observer: observer, throughDownProjection: false) { stream, workspace in
            Matrix(rows: stream.rows, cols: width, elements: Array(UnsafeBufferPointer(start: workspace.gated, count: stream.rows * width)))
        }
    }

    private func runMLP(_ index: Int, states: Matrix<Float>, observer: ActivationObserver?, throughDownProjection: Bool,
                        result: (ResidualStream, Workspace) -> Matrix<Float>) throws -> Matrix<Float> {
        precondition(states.cols == layers[index].middleWidth, "layer \(index)'s MLP reads \(layers[index].middleWidth) values, got \(states.cols)")
        let workspace = Workspace(model: self, rows: states.rows, keys: 1)
        var stream = workspace.stream(rows: states.rows, width: states.cols)
        states.elements.withUnsafeBufferPointer { stream.values.update(from: $0.baseAddress!, count: $0.count) }
        try mlpBlock(index, stream: &stream, observer: observer, workspace: workspace, throughDownProjection: throughDownProjection)
        return result(stream, workspace)
    }

    /// The end of layer `index`'s attention half from given Wo inputs: the residual rows
    /// (through the attention shortcut, if any) plus postNorm(woInput·Woᵀ). Compression uses
    /// it when it already holds the Wo inputs of a compressed attention, to skip a rerun.
    public func completeAttention(_ index: Int, woInput: Matrix<Float>, residual: Matrix<Float>) throws -> Matrix<Float> {
        let layer = layers[index]
        precondition(woInput.rows == residual.rows && woInput.cols == layer.attention.outputInputWidth && residual.cols == layer.inputWidth,
                     "layer \(index): Wo inputs \(woInput.rows)×\(woInput.cols) and residual \(residual.rows)×\(residual.cols) do not fit")
        return try complete(index, input: woInput, weight: layer.attention.wo, postNorm: layer.postAttentionNorm,
                            shortcut: layer.attentionShortcut, residual: residual, module: "attention")
    }

    /// The end of layer `index`'s MLP half from given Wdown inputs (see `completeAttention`).
    public func completeMLP(_ index: Int, downInput: Matrix<Float>, residual: Matrix<Float>) throws -> Matrix<Float> {
        let layer = layers[index]
        precondition(downInput.rows == residual.rows && downInput.cols == layer.mlp.width && residual.cols == layer.middleWidth,
                     "layer \(index): Wdown inputs \(downInput.rows)×\(downInput.cols) and residual \(residual.rows)×\(residual.cols) do not fit")
        return try complete(index, input: downInput, weight: layer.mlp.wDown, postNorm: layer.postMLPNorm,
                            shortcut: layer.mlpShortcut, residual: residual, module: "MLP")
    }

    private func complete(_ index: Int, input: Matrix<Float>, weight: Matrix<Float>, postNorm: [Float]?, shortcut: Matrix<Float>?,
                          residual: Matrix<Float>, module: String) throws -> Matrix<Float> {
        let workspace = Workspace(model: self, rows: residual.rows, keys: 1)
        var stream = workspace.stream(rows: residual.rows, width: residual.cols)
        residual.elements.withUnsafeBufferPointer { stream.values.update(from: $0.baseAddress!, count: $0.count) }
        if let shortcut { stream.apply(shortcut: shortcut) }
        input.elements.withUnsafeBufferPointer {
            project($0.baseAddress!, rows: input.rows, inWidth: input.cols, weight: weight, postNorm: postNorm, into: stream, workspace: workspace)
        }
        try checkFinite(index, stream, after: module)
        return stream.copy()
    }

    private func observe(_ observer: ActivationObserver?, _ layer: Int, _ site: CaptureSite,
                         _ values: UnsafePointer<Float>, rows: Int, width: Int) throws {
        guard let observer, observer.wants(layer: layer, site: site) else { return }
        try observer.observe(layer: layer, site: site, activations: UnsafeBufferPointer(start: values, count: rows * width),
                             rows: rows, width: width)
    }

    /// NaN or Inf in the residual stream would silently poison every later number.
    private func checkFinite(_ index: Int, _ stream: ResidualStream, after module: String) throws {
        let x = stream.values
        for i in 0..<(stream.rows * stream.width) where !x[i].isFinite {
            throw ForwardError(description: "layer \(index) produced NaN or Inf activations after its \(module) (token row \(i / stream.width))")
        }
    }

    private func attentionBlock(_ index: Int, stream: inout ResidualStream, layout: RowLayout, rope: RoPETable,
                                observer: ActivationObserver?, workspace: Workspace, throughOutputProjection: Bool = true) throws {
        let layer = layers[index]
        let attention = layer.attention
        let n = stream.rows, d = stream.width
        precondition(d == layer.inputWidth, "layer \(index) reads \(layer.inputWidth) values, the stream has \(d)")
        let heads = attention.numHeads, kvHeads = attention.numKVHeads
        let dqk = attention.qkHeadDim, width = attention.fusedWidth
        let keyOffset = attention.queryWidth
        let normed = workspace.normed, qkv = workspace.qkv

        try observe(observer, index, .attentionNormInput, stream.values, rows: n, width: d)
        layer.attentionNorm.withUnsafeBufferPointer {
            rmsNorm(stream.values, rows: n, width: d, weight: $0.baseAddress, eps: normEps, divisor: residualNormDivisor, into: normed)
        }

        // Q, K and V of every token in one product, then biases, q/k norms and RoPE.
        attention.wqkv.elements.withUnsafeBufferPointer { w in
            Float.gemm(transposeA: false, transposeB: true, m: n, n: width, k: d, alpha: 1, a: normed, lda: d,
                       b: w.baseAddress!, ldb: d, beta: 0, c: qkv, ldc: width)
        }
        attention.bqkv?.withUnsafeBufferPointer { b in
            for r in 0..<n { for j in 0..<width { qkv[r * width + j] += b[j] } }
        }
        for (norm, offset, count) in [(attention.qNorm, 0, heads), (attention.kNorm, keyOffset, kvHeads)] {
            norm?.withUnsafeBufferPointer { w in
                for r in 0..<n {
                    let p = qkv + r * width + offset
                    rmsNorm(p, rows: count, width: dqk, weight: w.baseAddress, eps: normEps, into: p)
                }
            }
        }
        let runs = layout.positionRuns.runs, runLength = n / runs
        for b in 0..<runs {
            let segments = attention.ropeSegments
            rope.apply(qkv + b * runLength * width, rows: runLength, stride: width, heads: heads, headHalf: dqk / 2,
                       segments: segments?.queryHeads)
            rope.apply(qkv + b * runLength * width + keyOffset, rows: runLength, stride: width, heads: kvHeads, headHalf: dqk / 2,
                       segments: segments?.kvHeads)
        }
        try observe(observer, index, .queryKeyValue, qkv, rows: n, width: width)

        switch layout {
        case .batched(let batch, let length, let firstPosition, let cache):
            if let cache { storeInCache(cache, layer: index, qkv: qkv, batch: batch, length: length, firstPosition: firstPosition) }
            attendBatched(attention, layer: index, batch: batch, length: length, firstPosition: firstPosition, cache: cache, workspace: workspace)
        case .packed(let packed):
            attendPackedDocuments(attention, packed: packed, workspace: workspace)
        }
        try observe(observer, index, .outputProjectionInput, workspace.heads, rows: n, width: attention.outputInputWidth)
        guard throughOutputProjection else { return }
        if let shortcut = layer.attentionShortcut { stream.apply(shortcut: shortcut) }
        project(workspace.heads, rows: n, inWidth: attention.outputInputWidth, weight: attention.wo, postNorm: layer.postAttentionNorm,
                into: stream, workspace: workspace)
        try checkFinite(index, stream, after: "attention")
    }

    /// Each query head attends with its KV head, read in place from the QKV rows or the
    /// cache. Heads are independent and their products small, so they are spread over
    /// the BLAS threads with single-threaded sgemm calls instead of threading each call.
    private func attendBatched(_ attention: Attention, layer index: Int, batch: Int, length: Int, firstPosition: Int,
                               cache: KVCache?, workspace: Workspace) {
        let heads = attention.numHeads, kvHeads = attention.numKVHeads
        let dqk = attention.qkHeadDim, dv = attention.vHeadDim
        let width = attention.fusedWidth, headsWidth = attention.outputInputWidth
        let keyOffset = attention.queryWidth, valueOffset = attention.queryWidth + attention.keyWidth
        let qkv = workspace.qkv, z = workspace.heads
        let keys = firstPosition + length
        spreadOverWorkers(tasks: batch * heads, workspace: workspace) { pair, scratch in
            let b = pair / heads, h = pair % heads
            let g = attention.kvHeadOfQueryHead[h]
            let q = UnsafePointer(qkv + b * length * width + h * dqk)
            let out = z + b * length * headsWidth + h * dv
            if let cache {
                cache.keys[index].withUnsafeBufferPointer { ck in
                    cache.values[index].withUnsafeBufferPointer { cv in
                        attend(q: q, ldq: width, k: ck.baseAddress! + (b * kvHeads + g) * cache.capacity * dqk, ldk: dqk,
                               v: cv.baseAddress! + (b * kvHeads + g) * cache.capacity * dv, ldv: dv,
                               out: out, ldo: headsWidth, queries: length, firstQuery: firstPosition, keys: keys,
                               qkDim: dqk, vDim: dv, scale: attention.scale, window: attention.slidingWindow, scratch: scratch)
                    }
                }
            } else {
                let base = UnsafePointer(qkv + b * length * width)
                attend(q: q, ldq: width, k: base + keyOffset + g * dqk, ldk: width, v: base + valueOffset + g * dv, ldv: width,
                       out: out, ldo: headsWidth, queries: length, firstQuery: 0, keys: keys,
                       qkDim: dqk, vDim: dv, scale: attention.scale, window: attention.slidingWindow, scratch: scratch)
            }
        }
    }

    /// Each (document, query head) pair attends within its document only.
    private func attendPackedDocuments(_ attention: Attention, packed: PackedSequences, workspace: Workspace) {
        let heads = attention.numHeads
        let dqk = attention.qkHeadDim, dv = attention.vHeadDim
        let width = attention.fusedWidth, headsWidth = attention.outputInputWidth
        let keyOffset = attention.queryWidth, valueOffset = attention.queryWidth + attention.keyWidth
        let qkv = workspace.qkv, z = workspace.heads
        packed.positions.withUnsafeBufferPointer { positions in
            spreadOverWorkers(tasks: packed.documentCount * heads, workspace: workspace) { pair, scratch in
                let span = packed.spans[pair / heads], h = pair % heads
                let g = attention.kvHeadOfQueryHead[h]
                let base = UnsafePointer(qkv + span.start * width)
                attendPacked(q: base + h * dqk, ldq: width, k: base + keyOffset + g * dqk, ldk: width,
                             v: base + valueOffset + g * dv, ldv: width, out: z + span.start * headsWidth + h * dv, ldo: headsWidth,
                             rows: span.rows, trunk: span.trunkEnd - span.start, branchStarts: span.branchStarts.map { $0 - span.start },
                             positions: positions.baseAddress! + span.start, qkDim: dqk, vDim: dv, scale: attention.scale,
                             window: attention.slidingWindow, scratch: scratch)
            }
        }
    }

    /// Runs `tasks` independent attention tasks on the workspace's workers, each worker with
    /// its own score scratch and single-threaded BLAS.
    private func spreadOverWorkers(tasks: Int, workspace: Workspace, _ body: (Int, UnsafeMutablePointer<Float>) -> Void) {
        let workers = min(workspace.attentionWorkers, tasks)
        guard workers > 0 else { return }
        withSingleThreadedBLAS(if: workers > 1) {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let scratch = workspace.scores + worker * workspace.scoresPerWorker
                for task in stride(from: worker, to: tasks, by: workers) { body(task, scratch) }
            }
        }
    }

    private func mlpBlock(_ index: Int, stream: inout ResidualStream, observer: ActivationObserver?, workspace: Workspace,
                          throughDownProjection: Bool = true) throws {
        let layer = layers[index]
        let n = stream.rows, d = stream.width, f = layer.mlp.width
        precondition(d == layer.middleWidth, "layer \(index)'s MLP reads \(layer.middleWidth) values, the stream has \(d)")
        try observe(observer, index, .mlpNormInput, stream.values, rows: n, width: d)
        layer.mlpNorm.withUnsafeBufferPointer {
            rmsNorm(stream.values, rows: n, width: d, weight: $0.baseAddress, eps: normEps, divisor: residualNormDivisor, into: workspace.normed)
        }
        layer.mlp.wGateUp.elements.withUnsafeBufferPointer { w in
            Float.gemm(transposeA: false, transposeB: true, m: n, n: 2 * f, k: d, alpha: 1, a: workspace.normed, lda: d,
                       b: w.baseAddress!, ldb: d, beta: 0, c: workspace.gateUp, ldc: 2 * f)
        }
        gatedActivation(workspace.gateUp, rows: n, width: f, kind: layer.mlp.activation, into: workspace.gated)
        try observe(observer, index, .downProjectionInput, workspace.gated, rows: n, width: f)
        guard throughDownProjection else { return }
        if let shortcut = layer.mlpShortcut { stream.apply(shortcut: shortcut) }
        project(workspace.gated, rows: n, inWidth: f, weight: layer.mlp.wDown, postNorm: layer.postMLPNorm, into: stream, workspace: workspace)
        try checkFinite(index, stream, after: "MLP")
    }

    /// x += postNorm(input · Wᵀ); without a post-norm the product accumulates straight into x.
    private func project(_ input: UnsafePointer<Float>, rows n: Int, inWidth: Int, weight: Matrix<Float>, postNorm: [Float]?,
                         into stream: ResidualStream, workspace: Workspace) {
        let d = stream.width, x = stream.values
        precondition(weight.rows == d, "a projection writes \(weight.rows) values into a stream of \(d)")
        weight.elements.withUnsafeBufferPointer { w in
            guard let postNorm else {
                Float.gemm(transposeA: false, transposeB: true, m: n, n: d, k: inWidth, alpha: 1, a: input, lda: inWidth,
                           b: w.baseAddress!, ldb: inWidth, beta: 1, c: x, ldc: d)
                return
            }
            let p = workspace.projected
            Float.gemm(transposeA: false, transposeB: true, m: n, n: d, k: inWidth, alpha: 1, a: input, lda: inWidth,
                       b: w.baseAddress!, ldb: inWidth, beta: 0, c: p, ldc: d)
            postNorm.withUnsafeBufferPointer { rmsNorm(p, rows: n, width: d, weight: $0.baseAddress, eps: normEps, into: p) }
            for i in 0..<(n * d) { x[i] += p[i] }
        }
    }

    private func storeInCache(_ cache: KVCache, layer index: Int, qkv: UnsafePointer<Float>, batch: Int, length: Int, firstPosition: Int) {
        let attention = layers[index].attention
        let width = attention.fusedWidth, dqk = attention.qkHeadDim, dv = attention.vHeadDim
        let keyOffset = attention.queryWidth, valueOffset = attention.queryWidth + attention.keyWidth
        cache.keys[index].withUnsafeMutableBufferPointer { ck in
            cache.values[index].withUnsafeMutableBufferPointer { cv in
                for b in 0..<batch {
                    for g in 0..<attention.numKVHeads {
                        for t in 0..<length {
                            let row = qkv + (b * length + t) * width
                            let slot = (b * attention.numKVHeads + g) * cache.capacity + firstPosition + t
                            (ck.baseAddress! + slot * dqk).update(from: row + keyOffset + g * dqk, count: dqk)
                            (cv.baseAddress! + slot * dv).update(from: row + valueOffset + g * dv, count: dv)
                        }
                    }
                }
            }
        }
    }

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

/// Runs `body` with OpenBLAS limited to one thread (restoring the count after), for
/// regions that call sgemm from several threads at once.
func withSingleThreadedBLAS(if condition: Bool, _ body: () -> Void) {
    guard condition else { return body() }
    let threads = BLASThreads.count
    BLASThreads.set(1)
    defer { BLASThreads.set(threads) }
    body()
}
