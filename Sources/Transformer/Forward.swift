import Foundation
import LinAlg

/// Scratch buffers of one forward call, sized for its largest layer. Raw allocations:
/// the layer code works on pointers, and nothing here needs zeroing.
private final class Workspace {
    let normed, qkv, heads, projected, gateUp, gated, scores: UnsafeMutablePointer<Float>
    /// Threads that attend to different heads at the same time, each with its own scores.
    let attentionWorkers: Int

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
        scores = .allocate(capacity: attentionWorkers * attentionQueryBlock * keys)
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
        var x = try embed(tokens)
        let workspace = Workspace(model: self, rows: tokens.count, keys: firstPosition + length)
        var tables: [[Float]: RoPETable] = [:]
        for index in layers.indices {
            let frequencies = layers[index].attention.ropeInverseFrequencies
            if tables[frequencies] == nil {
                tables[frequencies] = RoPETable(inverseFrequencies: frequencies, firstPosition: firstPosition, rows: length)
            }
            try runLayer(index, x: &x, batch: batch, length: length, firstPosition: firstPosition,
                         rope: tables[frequencies]!, cache: cache, observer: observer, workspace: workspace)
        }
        cache?.advance(by: length)
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

    private func runLayer(_ index: Int, x: inout Matrix<Float>, batch: Int, length: Int, firstPosition: Int,
                          rope: RoPETable, cache: KVCache?, observer: ActivationObserver?, workspace: Workspace) throws {
        let layer = layers[index]
        try x.elements.withUnsafeMutableBufferPointer { xBuffer in
            let x = xBuffer.baseAddress!
            try attentionBlock(index, layer: layer, x: x, batch: batch, length: length, firstPosition: firstPosition,
                               rope: rope, cache: cache, observer: observer, workspace: workspace)
            try mlpBlock(index, layer: layer, x: x, rows: batch * length, observer: observer, workspace: workspace)
            let count = batch * length * hiddenSize
            for i in 0..<count where !x[i].isFinite {
                throw ForwardError(description: "layer \(index) produced NaN or Inf activations (token row \(i / hiddenSize))")
            }
            try observe(observer, index, .layerOutput, x, rows: batch * length, width: hiddenSize)
        }
    }

    private func attentionBlock(_ index: Int, layer: DecoderLayer, x: UnsafeMutablePointer<Float>, batch: Int, length: Int,
                                firstPosition: Int, rope: RoPETable, cache: KVCache?, observer: ActivationObserver?,
                                workspace: Workspace) throws {
        let attention = layer.attention
        let n = batch * length, d = hiddenSize
        let heads = attention.numHeads, kvHeads = attention.numKVHeads
        let dqk = attention.qkHeadDim, dv = attention.vHeadDim
        let width = attention.fusedWidth, headsWidth = attention.outputInputWidth
        let keyOffset = attention.queryWidth, valueOffset = attention.queryWidth + attention.keyWidth
        let normed = workspace.normed, qkv = workspace.qkv, z = workspace.heads

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
        for b in 0..<batch {
            rope.apply(qkv + b * length * width, rows: length, stride: width, heads: heads)
            rope.apply(qkv + b * length * width + keyOffset, rows: length, stride: width, heads: kvHeads)
        }
        if let cache { storeInCache(cache, layer: index, qkv: qkv, batch: batch, length: length, firstPosition: firstPosition) }

        // Each query head attends with its KV head, read in place from the QKV rows or the
        // cache. Heads are independent and their products small, so they are spread over
        // the BLAS threads with single-threaded sgemm calls instead of threading each call.
        let pairs = batch * heads
        let workers = min(workspace.attentionWorkers, pairs)
        let keys = cache.map { _ in firstPosition + length } ?? length
        let scoresPerWorker = attentionQueryBlock * keys
        withSingleThreadedBLAS(if: workers > 1) {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let scratch = workspace.scores + worker * scoresPerWorker
                for pair in stride(from: worker, to: pairs, by: workers) {
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
        }
        try observe(observer, index, .outputProjectionInput, z, rows: n, width: headsWidth)
        project(z, rows: n, inWidth: headsWidth, weight: attention.wo, postNorm: layer.postAttentionNorm, into: x, workspace: workspace)
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
    /// (others give 0). Logits are formed a block of rows at a time into one reused buffer:
    /// a 262k vocabulary times 2048 positions would not fit in memory at once, and a fresh
    /// block per step would cost page faults on every allocation.
    public func negativeLogLikelihoods(hidden: Matrix<Float>, targets: [Int32], blockRows: Int = 64) -> [Double] {
        precondition(targets.count == hidden.rows, "one target per hidden row")
        let d = hiddenSize, vocabulary = vocabularySize
        var result = [Double](repeating: 0, count: hidden.rows)
        let block = UnsafeMutablePointer<Float>.allocate(capacity: min(blockRows, max(hidden.rows, 1)) * vocabulary)
        defer { block.deallocate() }
        hidden.elements.withUnsafeBufferPointer { h in
            head.elements.withUnsafeBufferPointer { w in
                var start = 0
                while start < hidden.rows {
                    let end = min(hidden.rows, start + blockRows)
                    Float.gemm(transposeA: false, transposeB: true, m: end - start, n: vocabulary, k: d, alpha: 1,
                               a: h.baseAddress! + start * d, lda: d, b: w.baseAddress!, ldb: d, beta: 0, c: block, ldc: vocabulary)
                    for r in start..<end where targets[r] >= 0 {
                        let row = block + (r - start) * vocabulary
                        result[r] = logSumExp(row, count: vocabulary) - Double(row[Int(targets[r])])
                    }
                    start = end
                }
            }
        }
        return result
    }
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
