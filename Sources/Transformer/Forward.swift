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
    let normed, qkv, heads, projected, gateUp, gated, scores: UnsafeMutablePointer<Float>
    /// Threads that attend to different heads at the same time, each with its own scores.
    let attentionWorkers: Int
    let scoresPerWorker: Int

    init(model: TransformerModel, rows n: Int, keys: Int) {
        attentionWorkers = max(1, BLASThreads.count)
        let d = model.hiddenSize
        let widest = model.layers.map(\.attention.fusedWidth).max() ?? 0
        let headsWidth = model.layers.map(\.attention.outputInputWidth).max() ?? 0
        let mlpWidth = model.layers.map(\.mlp.width).max() ?? 0
        normed = .allocate(capacity: n * d)
        qkv = .allocate(capacity: n * widest)
        heads = .allocate(capacity: n * headsWidth)
        projected = .allocate(capacity: n * d)
        gateUp = .allocate(capacity: n * 2 * mlpWidth)
        gated = .allocate(capacity: n * mlpWidth)
        scoresPerWorker = attentionQueryBlock * keys
        scores = .allocate(capacity: attentionWorkers * scoresPerWorker)
    }

    deinit { [normed, qkv, heads, projected, gateUp, gated, scores].forEach { $0.deallocate() } }
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
        var x = try embed(tokens)
        let workspace = Workspace(model: self, rows: tokens.count, keys: layout.maximumKeys)
        let positions = layout.positionRuns.positions
        var tables: [[Float]: RoPETable] = [:]
        for index in layers.indices {
            let frequencies = layers[index].attention.ropeInverseFrequencies
            if tables[frequencies] == nil {
                tables[frequencies] = RoPETable(inverseFrequencies: frequencies, positions: positions)
            }
            try runLayer(index, x: &x, layout: layout, rope: tables[frequencies]!, observer: observer, workspace: workspace)
        }
        var out = Matrix<Float>(rows: tokens.count, cols: hiddenSize)
        x.elements.withUnsafeBufferPointer { px in
            finalNorm.withUnsafeBufferPointer { w in
                out.elements.withUnsafeMutableBufferPointer { po in
                    rmsNorm(px.baseAddress!, rows: tokens.count, width: hiddenSize, weight: w.baseAddress, eps: normEps, into: po.baseAddress!)
                }
            }
        }
        return out
    }

    /// Embedding rows of the tokens, scaled by `embeddingScale`.
    func embed(_ tokens: [Int32]) throws -> Matrix<Float> {
        let d = hiddenSize, vocabulary = vocabularySize
        var x = Matrix<Float>(rows: tokens.count, cols: d)
        for (r, token) in tokens.enumerated() {
            guard token >= 0 && Int(token) < vocabulary else {
                throw ForwardError(description: "token id \(token) is outside the vocabulary of \(vocabulary)")
            }
            let t = Int(token)
            for j in 0..<d { x.elements[r * d + j] = embedding.elements[t * d + j] * embeddingScale }
        }
        return x
    }

    private func observe(_ observer: ActivationObserver?, _ layer: Int, _ site: CaptureSite,
                         _ values: UnsafePointer<Float>, rows: Int, width: Int) throws {
        guard let observer, observer.wants(layer: layer, site: site) else { return }
        try observer.observe(layer: layer, site: site, activations: UnsafeBufferPointer(start: values, count: rows * width),
                             rows: rows, width: width)
    }

    private func runLayer(_ index: Int, x: inout Matrix<Float>, layout: RowLayout, rope: RoPETable,
                          observer: ActivationObserver?, workspace: Workspace) throws {
        let layer = layers[index]
        let n = x.rows
        try x.elements.withUnsafeMutableBufferPointer { xBuffer in
            let x = xBuffer.baseAddress!
            try attentionBlock(index, layer: layer, x: x, rows: n, layout: layout, rope: rope, observer: observer, workspace: workspace)
            try mlpBlock(index, layer: layer, x: x, rows: n, observer: observer, workspace: workspace)
            let count = n * hiddenSize
            for i in 0..<count where !x[i].isFinite {
                throw ForwardError(description: "layer \(index) produced NaN or Inf activations (token row \(i / hiddenSize))")
            }
            try observe(observer, index, .layerOutput, x, rows: n, width: hiddenSize)
        }
    }

    private func attentionBlock(_ index: Int, layer: DecoderLayer, x: UnsafeMutablePointer<Float>, rows n: Int,
                                layout: RowLayout, rope: RoPETable, observer: ActivationObserver?, workspace: Workspace) throws {
        let attention = layer.attention
        let d = hiddenSize
        let heads = attention.numHeads, kvHeads = attention.numKVHeads
        let dqk = attention.qkHeadDim, width = attention.fusedWidth
        let keyOffset = attention.queryWidth
        let normed = workspace.normed, qkv = workspace.qkv

        try observe(observer, index, .attentionNormInput, x, rows: n, width: d)
        layer.attentionNorm.withUnsafeBufferPointer { rmsNorm(x, rows: n, width: d, weight: $0.baseAddress, eps: normEps, into: normed) }

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
            rope.apply(qkv + b * runLength * width, rows: runLength, stride: width, heads: heads)
            rope.apply(qkv + b * runLength * width + keyOffset, rows: runLength, stride: width, heads: kvHeads)
        }

        switch layout {
        case .batched(let batch, let length, let firstPosition, let cache):
            if let cache { storeInCache(cache, layer: index, qkv: qkv, batch: batch, length: length, firstPosition: firstPosition) }
            attendBatched(attention, layer: index, batch: batch, length: length, firstPosition: firstPosition, cache: cache, workspace: workspace)
        case .packed(let packed):
            attendPackedDocuments(attention, packed: packed, workspace: workspace)
        }
        try observe(observer, index, .outputProjectionInput, workspace.heads, rows: n, width: attention.outputInputWidth)
        project(workspace.heads, rows: n, inWidth: attention.outputInputWidth, weight: attention.wo, postNorm: layer.postAttentionNorm,
                into: x, workspace: workspace)
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

    private func mlpBlock(_ index: Int, layer: DecoderLayer, x: UnsafeMutablePointer<Float>, rows n: Int,
                          observer: ActivationObserver?, workspace: Workspace) throws {
        let d = hiddenSize, f = layer.mlp.width
        try observe(observer, index, .mlpNormInput, x, rows: n, width: d)
        layer.mlpNorm.withUnsafeBufferPointer { rmsNorm(x, rows: n, width: d, weight: $0.baseAddress, eps: normEps, into: workspace.normed) }
        layer.mlp.wGateUp.elements.withUnsafeBufferPointer { w in
            Float.gemm(transposeA: false, transposeB: true, m: n, n: 2 * f, k: d, alpha: 1, a: workspace.normed, lda: d,
                       b: w.baseAddress!, ldb: d, beta: 0, c: workspace.gateUp, ldc: 2 * f)
        }
        gatedActivation(workspace.gateUp, rows: n, width: f, kind: layer.mlp.activation, into: workspace.gated)
        try observe(observer, index, .downProjectionInput, workspace.gated, rows: n, width: f)
        project(workspace.gated, rows: n, inWidth: f, weight: layer.mlp.wDown, postNorm: layer.postMLPNorm, into: x, workspace: workspace)
    }

    /// x += postNorm(input · Wᵀ); without a post-norm the product accumulates straight into x.
    private func project(_ input: UnsafePointer<Float>, rows n: Int, inWidth: Int, weight: Matrix<Float>, postNorm: [Float]?,
                         into x: UnsafeMutablePointer<Float>, workspace: Workspace) {
        let d = hiddenSize
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
