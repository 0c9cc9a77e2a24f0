import LinAlg

extension Attention {
    /// The head outputs (the Wo input, `outputInputWidth` wide) of `n` normalised rows in
    /// `context.workspace.normed`, written to `context.workspace.heads`; the rows' queries,
    /// keys and values go to the KV cache when the layout has one.
    func headOutputs(rows n: Int, inputWidth d: Int, context: LayerContext) throws {
        let workspace = context.workspace
        let qkv = workspace.qkv
        try queriesKeysValues(rows: n, inputWidth: d, context: context)
        switch context.layout {
        case .batched(let batch, let length, let firstPosition, let cache):
            if let cache { store(in: cache, layer: context.index, qkv: qkv, batch: batch, length: length, firstPosition: firstPosition) }
            attendBatched(layer: context.index, batch: batch, length: length, firstPosition: firstPosition, cache: cache, workspace: workspace)
        case .packed(let packed):
            attendPackedDocuments(packed: packed, workspace: workspace)
        }
        try context.observe(.outputProjectionInput, workspace.heads, rows: n, width: outputInputWidth)
    }

    /// Q, K and V of `n` normalised rows in `context.workspace.normed`, in one product, then
    /// biases, q/k norms and RoPE, into `context.workspace.qkv` (the reverse pass forms them
    /// again this way).
    func queriesKeysValues(rows n: Int, inputWidth d: Int, context: LayerContext) throws {
        let workspace = context.workspace
        let qkv = workspace.qkv, width = fusedWidth
        precondition(d == wqkv.cols, "layer \(context.index)'s attention reads \(wqkv.cols) values, got \(d)")
        wqkv.elements.withUnsafeBufferPointer { w in
            Float.gemm(transposeA: false, transposeB: true, m: n, n: width, k: d, alpha: 1, a: workspace.normed, lda: d,
                       b: w.baseAddress!, ldb: d, beta: 0, c: qkv, ldc: width)
        }
        let runLength = n / context.layout.positionRuns.runs
        let tiles = Workers.rowTiles(n)
        Workers.run(tasks: tiles.count) { t, _ in prepareQueriesAndKeys(qkv, rows: tiles[t], runLength: runLength, rope: context.rope, eps: context.norm.eps) }
        try context.observe(.queryKeyValue, qkv, rows: n, width: width)
    }

    /// Biases, per-head q/k norms and RoPE on the QKV rows of `rows`; row r sits at position
    /// table row r mod `runLength` (batched sequences repeat their positions).
    private func prepareQueriesAndKeys(_ qkv: UnsafeMutablePointer<Float>, rows: Range<Int>, runLength: Int, rope: RoPETable, eps: Float) {
        let width = fusedWidth, dqk = qkHeadDim, keyOffset = queryWidth
        bqkv?.withUnsafeBufferPointer { b in
            for r in rows { for j in 0..<width { qkv[r * width + j] += b[j] } }
        }
        for (norm, offset, count) in [(qNorm, 0, numHeads), (kNorm, keyOffset, numKVHeads)] {
            norm?.withUnsafeBufferPointer { w in
                for r in rows {
                    let p = qkv + r * width + offset
                    rmsNorm(p, rows: count, width: dqk, weight: w.baseAddress, eps: eps, into: p)
                }
            }
        }
        let segments = ropeSegments
        var start = rows.lowerBound
        while start < rows.upperBound {
            // A run of rows with consecutive table rows: up to the end of the tile or the sequence.
            let end = min(rows.upperBound, (start / runLength + 1) * runLength)
            let x = qkv + start * width, firstRow = start % runLength
            rope.apply(x, rows: end - start, stride: width, heads: numHeads, headHalf: dqk / 2, segments: segments?.queryHeads, firstRow: firstRow)
            rope.apply(x + keyOffset, rows: end - start, stride: width, heads: numKVHeads, headHalf: dqk / 2, segments: segments?.kvHeads,
                       firstRow: firstRow)
            start = end
        }
    }

    /// Each query head attends with its KV head, read in place from the QKV rows or the
    /// cache, one block of query rows per task. Tasks with the most keys come first so the
    /// workers finish together; each is a single-threaded product inside its worker.
    private func attendBatched(layer index: Int, batch: Int, length: Int, firstPosition: Int, cache: KVCache?, workspace: Workspace) {
        let heads = numHeads, kvHeads = numKVHeads, dqk = qkHeadDim, dv = vHeadDim
        let width = fusedWidth, headsWidth = outputInputWidth
        let keyOffset = queryWidth, valueOffset = queryWidth + keyWidth
        let qkv = workspace.qkv, z = workspace.heads
        let keys = firstPosition + length
        let blocks = (length + attentionQueryBlock - 1) / attentionQueryBlock
        let perBlock = batch * heads
        withCache(cache, layer: index) { cachedKeys, cachedValues in
            Workers.run(tasks: blocks * perBlock) { task, worker in
                let block = blocks - 1 - task / perBlock, b = task % perBlock / heads, h = task % heads
                let g = kvHeadOfQueryHead[h]
                let r0 = block * attentionQueryBlock, rows = min(attentionQueryBlock, length - r0)
                let q = UnsafePointer(qkv + (b * length + r0) * width + h * dqk)
                let out = z + (b * length + r0) * headsWidth + h * dv
                let scratch = workspace.scores + worker * workspace.scoresPerWorker
                if let cachedKeys, let cachedValues, let cache {
                    let slot = (b * kvHeads + g) * cache.capacity
                    attend(q: q, ldq: width, k: cachedKeys + slot * dqk, ldk: dqk, v: cachedValues + slot * dv, ldv: dv,
                           out: out, ldo: headsWidth, queries: rows, firstQuery: firstPosition + r0, keys: keys,
                           qkDim: dqk, vDim: dv, scale: scale, window: slidingWindow, scratch: scratch)
                } else {
                    let base = UnsafePointer(qkv + b * length * width)
                    attend(q: q, ldq: width, k: base + keyOffset + g * dqk, ldk: width, v: base + valueOffset + g * dv, ldv: width,
                           out: out, ldo: headsWidth, queries: rows, firstQuery: r0, keys: keys,
                           qkDim: dqk, vDim: dv, scale: scale, window: slidingWindow, scratch: scratch)
                }
            }
        }
    }

    /// Each (document, query head) pair attends within its document only; long documents first.
    private func attendPackedDocuments(packed: PackedSequences, workspace: Workspace) {
        let heads = numHeads, dqk = qkHeadDim, dv = vHeadDim
        let width = fusedWidth, headsWidth = outputInputWidth
        let keyOffset = queryWidth, valueOffset = queryWidth + keyWidth
        let qkv = workspace.qkv, z = workspace.heads
        let order = packed.spans.indices.sorted { packed.spans[$0].rows > packed.spans[$1].rows }
        packed.positions.withUnsafeBufferPointer { positions in
            Workers.run(tasks: order.count * heads) { task, worker in
                let span = packed.spans[order[task / heads]], h = task % heads
                let g = kvHeadOfQueryHead[h]
                let base = UnsafePointer(qkv + span.start * width)
                attendPacked(q: base + h * dqk, ldq: width, k: base + keyOffset + g * dqk, ldk: width,
                             v: base + valueOffset + g * dv, ldv: width, out: z + span.start * headsWidth + h * dv, ldo: headsWidth,
                             rows: span.rows, trunk: span.trunkEnd - span.start, branchStarts: span.branchStarts.map { $0 - span.start },
                             positions: positions.baseAddress! + span.start, qkDim: dqk, vDim: dv, scale: scale,
                             window: slidingWindow, scratch: workspace.scores + worker * workspace.scoresPerWorker)
            }
        }
    }

    /// Copies the keys and values of the new rows into the cache slots after the cached ones.
    private func store(in cache: KVCache, layer index: Int, qkv: UnsafePointer<Float>, batch: Int, length: Int, firstPosition: Int) {
        let width = fusedWidth, dqk = qkHeadDim, dv = vHeadDim
        let keyOffset = queryWidth, valueOffset = queryWidth + keyWidth
        cache.keys[index].withUnsafeMutableBufferPointer { ck in
            cache.values[index].withUnsafeMutableBufferPointer { cv in
                for b in 0..<batch {
                    for g in 0..<numKVHeads {
                        for t in 0..<length {
                            let row = qkv + (b * length + t) * width
                            let slot = (b * numKVHeads + g) * cache.capacity + firstPosition + t
                            (ck.baseAddress! + slot * dqk).update(from: row + keyOffset + g * dqk, count: dqk)
                            (cv.baseAddress! + slot * dv).update(from: row + valueOffset + g * dv, count: dv)
                        }
                    }
                }
            }
        }
    }

    /// The cache's key and value buffers of layer `index` (nil without a cache) for `body`.
    private func withCache(_ cache: KVCache?, layer index: Int,
                           _ body: (UnsafePointer<Float>?, UnsafePointer<Float>?) -> Void) {
        guard let cache else { return body(nil, nil) }
        cache.keys[index].withUnsafeBufferPointer { k in
            cache.values[index].withUnsafeBufferPointer { v in body(k.baseAddress, v.baseAddress) }
        }
    }
}
