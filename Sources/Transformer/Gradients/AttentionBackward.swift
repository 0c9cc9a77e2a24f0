import LinAlg

extension Attention {
    /// The reverse of `headOutputs`' attention step for `batch` sequences of `length` rows
    /// from position 0: given the head outputs Z (`z`, the Wo input) and dZ (`dz`), writes
    /// dQ, dK and dV (with respect to Q and K after RoPE) into `dqkv` in the fused QKV
    /// layout. P is recomputed block by block from Q and K (`attentionWeights`, the forward
    /// pass's own code) rather than stored. With S = scale·QKᵀ and O = PV:
    /// dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dO ⊙ O)), dQ = scale·dS·K, dK = scale·dSᵀ·Q, dV = Pᵀ·dO.
    ///
    /// Tasks are (sequence, query head, query segment); each adds its dK and dV into its own
    /// buffer, and the buffers are summed in task order, so the result does not depend on
    /// which worker ran what. Two segments of equal causal work per head keep two workers
    /// busy when a model has few heads (SmolLM2: 9).
    func headOutputsBackward(qkv: UnsafePointer<Float>, z: UnsafePointer<Float>, dz: UnsafePointer<Float>, batch: Int, length: Int,
                             into dqkv: UnsafeMutablePointer<Float>) {
        let heads = numHeads, dqk = qkHeadDim, dv = vHeadDim, width = fusedWidth, headsWidth = outputInputWidth
        let keyOffset = queryWidth, valueOffset = queryWidth + keyWidth
        let segments = Self.querySegments(length: length, window: slidingWindow)
        let tasks = batch * heads * segments.count
        let perTask = length * (dqk + dv)
        let accumulators = UnsafeMutablePointer<Float>.allocate(capacity: tasks * perTask)
        accumulators.initialize(repeating: 0, count: tasks * perTask)
        let workers = Workers.width(for: tasks), blockSize = attentionQueryBlock * length
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * 2 * blockSize)
        defer { accumulators.deallocate(); scratch.deallocate() }

        Workers.run(tasks: tasks) { task, worker in
            let segment = segments[task % segments.count], h = task / segments.count % heads, b = task / (segments.count * heads)
            let g = kvHeadOfQueryHead[h]
            let base = qkv + b * length * width
            let q = base + h * dqk, k = base + keyOffset + g * dqk, v = base + valueOffset + g * dv
            let o = z + b * length * headsWidth + h * dv, dO = dz + b * length * headsWidth + h * dv
            let dQ = dqkv + b * length * width + h * dqk
            let dK = accumulators + task * perTask, dV = dK + length * dqk
            let p = scratch + worker * 2 * blockSize, dS = p + blockSize
            var r0 = segment.lowerBound
            while r0 < segment.upperBound {
                let rows = r0..<min(segment.upperBound, r0 + attentionQueryBlock)
                let seen = attentionWeights(q: q, ldq: width, k: k, ldk: width, rows: rows, firstQuery: 0, keys: length,
                                            qkDim: dqk, scale: scale, window: slidingWindow, into: p)
                let w = seen.count
                Float.serialGemm(transposeA: false, transposeB: true, m: rows.count, n: w, k: dv, alpha: 1, a: dO + rows.lowerBound * headsWidth,
                                 lda: headsWidth, b: v + seen.lowerBound * width, ldb: width, beta: 0, c: dS, ldc: w)
                for (i, r) in rows.enumerated() {
                    var delta: Float = 0
                    for j in 0..<dv { delta += dO[r * headsWidth + j] * o[r * headsWidth + j] }
                    let pr = p + i * w, sr = dS + i * w
                    for j in 0..<w { sr[j] = pr[j] * (sr[j] - delta) }
                }
                Float.serialGemm(transposeA: false, transposeB: false, m: rows.count, n: dqk, k: w, alpha: scale, a: dS, lda: w,
                                 b: k + seen.lowerBound * width, ldb: width, beta: 0, c: dQ + rows.lowerBound * width, ldc: width)
                Float.serialGemm(transposeA: true, transposeB: false, m: w, n: dqk, k: rows.count, alpha: scale, a: dS, lda: w,
                                 b: q + rows.lowerBound * width, ldb: width, beta: 1, c: dK + seen.lowerBound * dqk, ldc: dqk)
                Float.serialGemm(transposeA: true, transposeB: false, m: w, n: dv, k: rows.count, alpha: 1, a: p, lda: w,
                                 b: dO + rows.lowerBound * headsWidth, ldb: headsWidth, beta: 1, c: dV + seen.lowerBound * dv, ldc: dv)
                r0 = rows.upperBound
            }
        }

        // dK and dV of each KV head: the sum of its query heads' buffers, in task order.
        for b in 0..<batch {
            for t in 0..<length {
                let row = dqkv + (b * length + t) * width
                (row + keyOffset).update(repeating: 0, count: keyWidth + valueWidth)
            }
            for h in 0..<heads {
                let g = kvHeadOfQueryHead[h]
                for s in segments.indices {
                    let dK = accumulators + ((b * heads + h) * segments.count + s) * perTask, dV = dK + length * dqk
                    for t in 0..<length {
                        let row = dqkv + (b * length + t) * width
                        let kRow = row + keyOffset + g * dqk, vRow = row + valueOffset + g * dv
                        for j in 0..<dqk { kRow[j] += dK[t * dqk + j] }
                        for j in 0..<dv { vRow[j] += dV[t * dv + j] }
                    }
                }
            }
        }
    }

    /// Query rows of a sequence cut into (at most) two runs of whole blocks with about equal
    /// work: causal rows cost in proportion to their position, so the cut is near length/√2;
    /// a sliding window makes rows cost alike, so it is near the middle.
    static func querySegments(length: Int, window: Int?) -> [Range<Int>] {
        let blocks = (length + attentionQueryBlock - 1) / attentionQueryBlock
        guard blocks > 1 else { return [0..<length] }
        let fraction = window == nil ? 0.5.squareRoot() : 0.5
        let cut = min(blocks - 1, max(1, Int((Double(blocks) * fraction).rounded()))) * attentionQueryBlock
        return [0..<cut, cut..<length]
    }
}
