import Foundation
import LinAlg
import Transformer

/// IntraSlice's attention step for one layer (METHODS.md §4b, as the public code does it):
/// score the Wo input channels, remove heads, keep the best rotary pairs of Q/K per KV group,
/// move V into a per-group PCA basis, and refit Wo by ridge regression against the
/// unpruned attention's Wo inputs. Everything is folded into Wq, Wk, Wv and Wo.
struct IntraSliceAttention {
    let layer: Int
    /// Wo input channels kept in all (before rounding heads to an even common size).
    let keep: Int
    /// Whether rotary pairs may be dropped (not under Gemma's per-head q/k norms).
    let prunesQueryKeyPairs: Bool

    /// What the unpruned attention does on the calibration data.
    final class Observer: ActivationObserver {
        let layer: Int
        let attention: Attention
        var covariance: CovarianceAccumulator
        /// Σ_t |q_t,h,i · k_t,g(h),i| after RoPE, per query head h and dimension i.
        var queryKeyProducts: [Double]

        init(layer: Int, attention: Attention) {
            self.layer = layer
            self.attention = attention
            covariance = CovarianceAccumulator(dimension: attention.outputInputWidth, products: .float32)
            queryKeyProducts = [Double](repeating: 0, count: attention.numHeads * attention.qkHeadDim)
        }

        func wants(layer: Int, site: CaptureSite) -> Bool {
            layer == self.layer && (site == .queryKeyValue || site == .outputProjectionInput)
        }

        func observe(layer: Int, site: CaptureSite, activations: UnsafeBufferPointer<Float>, rows: Int, width: Int) throws {
            if site == .outputProjectionInput {
                try covariance.add(activations, rows: rows, label: "layer \(layer) wo_input")
                return
            }
            let a = attention, d = a.qkHeadDim, keyOffset = a.numHeads * d
            queryKeyProducts.withUnsafeMutableBufferPointer { sums in
                var row = [Float](repeating: 0, count: a.numHeads * d)
                row.withUnsafeMutableBufferPointer { products in
                    for r in 0..<rows {
                        let x = activations.baseAddress! + r * width
                        for h in 0..<a.numHeads {
                            let q = x + h * d, k = x + keyOffset + a.kvHeadOfQueryHead[h] * d, out = products.baseAddress! + h * d
                            for i in 0..<d { out[i] = abs(q[i] * k[i]) }
                        }
                        for i in 0..<products.count { sums[i] += Double(products[i]) }
                    }
                }
            }
        }
    }

    struct Plan {
        var keptHeads: [Int]
        /// The common reduced head size k_h (even).
        var headSize: Int
        /// Kept rotary pair indices for each KV head still used, in ascending order.
        var pairs: [Int: [Int]]
    }

    /// Heads and head size from the channel scores C_jj·‖Wo[:, j]‖².
    func planHeads(_ a: Attention, covariance c: Matrix<Double>) throws -> (keptHeads: [Int], headSize: Int, scores: [Double]) {
        let heads = a.numHeads, dv = a.vHeadDim, width = a.outputInputWidth
        var columnNorms = [Double](repeating: 0, count: width)
        for r in 0..<a.wo.rows { for j in 0..<width { let v = Double(a.wo.elements[r * width + j]); columnNorms[j] += v * v } }
        let scores = (0..<width).map { c[$0, $0] * columnNorms[$0] }
        let top = Set(scores.indices.sorted { (scores[$0], $1) > (scores[$1], $0) }.prefix(keep))
        let owned = (0..<heads).map { h in Attention.span(head: h, size: dv).filter { top.contains($0) }.count }
        let headScore = (0..<heads).map { h in Attention.span(head: h, size: dv).reduce(0.0) { $0 + scores[$1] } }
        // Each head's spectrum as shares of its variance, weighted by the head's score: the
        // score a head keeps with its k leading directions.
        let spectra = try (0..<heads).map { h -> [Double] in
            let span = Attention.span(head: h, size: dv)
            let block = c.selectingRows(span).selectingColumns(span)
            let values = try symmetricEigen(block).values.map { max($0, 0) }
            let total = values.reduce(0, +)
            return values.map { total > 0 ? $0 / total * headScore[h] : 0 }
        }
        func retained(_ set: [Int]) -> Double {
            let k = min(dv, keep / set.count)
            return set.reduce(0.0) { $0 + spectra[$1].prefix(k).reduce(0, +) }
        }

        let threshold = (keep / heads) / 4
        var remaining = (0..<heads).filter { owned[$0] >= threshold }
        if remaining.isEmpty { remaining = [headScore.indices.max { headScore[$0] < headScore[$1] }!] }
        // Greedy: drop the weakest head while that raises the retained score.
        while remaining.count > 1 {
            let weakest = remaining.min { headScore[$0] < headScore[$1] }!
            let without = remaining.filter { $0 != weakest }
            guard keep / without.count <= dv, retained(without) > retained(remaining) else { break }
            remaining = without
        }
        // Heads thinner than three quarters of their size are not worth their overhead.
        while remaining.count > 1 && keep / remaining.count < 3 * dv / 4 {
            let weakest = remaining.min { headScore[$0] < headScore[$1] }!
            remaining.removeAll { $0 == weakest }
        }
        let size = max(2, min(dv, 2 * Int((Double(keep) / Double(remaining.count) / 2).rounded())))
        return (remaining.sorted(), size, scores)
    }

    /// The best `size/2` rotary pairs (i, i + d/2) per KV head by Σ|q⊙k| over its kept query heads.
    func planPairs(_ a: Attention, keptHeads: [Int], headSize: Int, products: [Double]) -> [Int: [Int]] {
        let d = a.qkHeadDim, half = d / 2
        let wanted = prunesQueryKeyPairs ? min(half, headSize / 2) : half
        var pairs: [Int: [Int]] = [:]
        for g in Set(keptHeads.map { a.kvHeadOfQueryHead[$0] }) {
            let group = keptHeads.filter { a.kvHeadOfQueryHead[$0] == g }
            let score = (0..<half).map { i in group.reduce(0.0) { $0 + products[$1 * d + i] + products[$1 * d + i + half] } }
            pairs[g] = Array(score.indices.sorted { (score[$0], $1) > (score[$1], $0) }.prefix(wanted)).sorted()
        }
        return pairs
    }

    /// The attention with heads removed and Q/K reduced to the kept pairs, V and Wo as they
    /// were (for the kept heads): what the V/O basis and the ridge fit are computed on.
    func queryKeyPruned(_ a: Attention, plan: Plan) -> Attention {
        let kvHeads = plan.pairs.keys.sorted()
        let newKV = Dictionary(uniqueKeysWithValues: kvHeads.enumerated().map { ($1, $0) })
        let d = a.qkHeadDim, half = d / 2
        func rows(head: Int, pairs: [Int]) -> [Int] { pairs.map { head * d + $0 } + pairs.map { head * d + half + $0 } }
        let qRows = plan.keptHeads.flatMap { rows(head: $0, pairs: plan.pairs[a.kvHeadOfQueryHead[$0]]!) }
        let kRows = kvHeads.flatMap { rows(head: $0, pairs: plan.pairs[$0]!) }
        let vRows = Attention.spans(heads: kvHeads, size: a.vHeadDim)
        let shared = a.ropeInverseFrequencies.count == half
        let frequencies = kvHeads.flatMap { g in plan.pairs[g]!.map { a.ropeInverseFrequencies[(shared ? 0 : g * half) + $0] } }
        let pairCount = plan.pairs[kvHeads[0]]!.count
        let allSame = kvHeads.allSatisfy { plan.pairs[$0] == plan.pairs[kvHeads[0]] }
        return a.rebuilt(numHeads: plan.keptHeads.count, numKVHeads: kvHeads.count, kvHeadOfQueryHead: plan.keptHeads.map { newKV[a.kvHeadOfQueryHead[$0]]! },
                         qkHeadDim: 2 * pairCount, vHeadDim: a.vHeadDim,
                         ropeInverseFrequencies: allSame ? Array(frequencies.prefix(pairCount)) : frequencies,
                         wq: a.wq.selectingRows(qRows), wk: a.wk.selectingRows(kRows), wv: a.wv.selectingRows(vRows),
                         bq: a.bq.map { b in qRows.map { b[$0] } }, bk: a.bk.map { b in kRows.map { b[$0] } }, bv: a.bv.map { b in vRows.map { b[$0] } },
                         wo: a.wo.selectingColumns(Attention.spans(heads: plan.keptHeads, size: a.vHeadDim)))
    }

    /// Folds the per-KV-group V basis and the ridge-fitted output projection into `pruned`;
    /// returns it with P = blockdiag(U_g(h)), which maps the Q/K-pruned attention's Wo
    /// inputs to the folded one's.
    /// `compressedCovariance` is Σ X̃ᵀX̃ over the Q/K-pruned attention's Wo inputs, `cross`
    /// Σ X̃ᵀX against the unpruned ones; `original` is the unpruned attention. When no head
    /// and no rotary pair went (`queryKeyUnchanged`), X̃ = X and the fit's exact answer is
    /// the identity: Wo·P is used as it is, without the damping's shrinkage.
    func fold(_ pruned: Attention, original: Attention, headSize k: Int, compressedCovariance c: Matrix<Double>,
              cross r: Matrix<Double>, queryKeyUnchanged: Bool,
              statistics: inout PruningStatistics) throws -> (attention: Attention, projection: Matrix<Double>) {
        let dv = pruned.vHeadDim, heads = pruned.numHeads
        var bases: [Matrix<Double>] = []
        for g in 0..<pruned.numKVHeads {
            var block = Matrix<Double>(rows: dv, cols: dv)
            for h in pruned.queryHeads(ofKVHead: g) {
                let span = Attention.span(head: h, size: dv)
                block = block + c.selectingRows(span).selectingColumns(span)
            }
            let basis = try PrincipalBasis(covariance: block, label: "layer \(layer) V/O group \(g)")
            statistics.record(layer: layer, site: .outputProjectionInput, "vo_eigenvalues_group_\(g)", basis.eigenvalues)
            statistics.record(layer: layer, site: .outputProjectionInput, "vo_variance_kept_group_\(g)", [basis.varianceKept(k)])
            bases.append(basis.leading(k))
        }
        // P = blockdiag(U_g(h)) over the kept heads: [heads·dv, heads·k].
        var p = Matrix<Double>(rows: heads * dv, cols: heads * k)
        for h in 0..<heads {
            let u = bases[pruned.kvHeadOfQueryHead[h]]
            for i in 0..<dv { for j in 0..<k { p.elements[(h * dv + i) * (heads * k) + h * k + j] = u[i, j] } }
        }
        // PᵀM = (PᵀC̃P + δI)⁻¹·PᵀR, δ = 0.01·tr(PᵀC̃P) / (unpruned Wo width), as the public code damps.
        var fitted = p.transposed
        if !queryKeyUnchanged {
            let reduced = matmul(matmul(p, c, transposeA: true), p)
            let delta = 0.01 * reduced.diagonal.reduce(0, +) / Double(original.outputInputWidth)
            do { fitted = try ridgeSolve(gram: reduced, cross: matmul(p, r, transposeA: true), lambda: delta) } catch {
                throw PruningError("layer \(layer): the V/O ridge system is not positive definite after damping (\(error))")
            }
            statistics.record(layer: layer, site: .outputProjectionInput, "ridge_lambda", [delta])
        }
        let wo = matmul(original.wo.asDouble, fitted, transposeB: true).asFloat

        var wv = Matrix<Float>(rows: pruned.numKVHeads * k, cols: pruned.wv.cols)
        var bv: [Float]? = pruned.bv.map { _ in [Float](repeating: 0, count: pruned.numKVHeads * k) }
        for g in 0..<pruned.numKVHeads {
            let span = Attention.span(head: g, size: dv)
            let rotated = matmul(bases[g], pruned.wv.selectingRows(span).asDouble, transposeA: true).asFloat
            wv.elements.replaceSubrange((g * k * wv.cols)..<((g + 1) * k * wv.cols), with: rotated.elements)
            if let b = pruned.bv {
                let column = Matrix<Double>(rows: dv, cols: 1, elements: span.map { Double(b[$0]) })
                let rotatedBias = matmul(bases[g], column, transposeA: true)
                for j in 0..<k { bv![g * k + j] = Float(rotatedBias.elements[j]) }
            }
        }
        let folded = pruned.rebuilt(numHeads: heads, numKVHeads: pruned.numKVHeads, kvHeadOfQueryHead: pruned.kvHeadOfQueryHead,
                                    qkHeadDim: pruned.qkHeadDim, vHeadDim: k, ropeInverseFrequencies: pruned.ropeInverseFrequencies,
                                    wq: pruned.wq, wk: pruned.wk, wv: wv, bq: pruned.bq, bk: pruned.bk, bv: bv, wo: wo)
        return (folded, p)
    }
}
