import Foundation
import LinAlg
import Transformer

/// IntraSlice's MLP step (METHODS.md §4a): keep the channels of the Wdown input with the
/// largest (C_jj + δ)·‖Wdown[:, j]‖², and reconstruct the removed ones from the kept ones by
/// least squares, z_P ≈ z_K·T with T = (C_KK + δI)⁻¹·C_KP, folded into Wdown. Selecting
/// coordinates commutes with the element-wise gate, so gate and up just lose columns.
struct IntraSliceMLP {
    let layer: Int
    let compensation: Bool

    /// Keeps all but `removed` channels of `mlp`, given C = Σ zᵀz of its Wdown inputs;
    /// returns the pruned MLP and the kept channels (ascending). It takes C, which it frees
    /// once the blocks it needs are out (at 7B width C is a gigabyte).
    func prune(_ mlp: MLP, removed: Int, covariance raw: consuming Matrix<Double>,
               statistics: inout PruningStatistics) throws -> (mlp: MLP, kept: [Int]) {
        let f = mlp.width, dOut = mlp.wDown.rows
        // C + λI with λ = 1 % of the mean diagonal, applied where it is read: a damped copy of
        // an 11008² covariance would hold another gigabyte for nothing but its diagonal.
        let lambda = 0.01 * raw.diagonal.reduce(0, +) / Double(f)
        var columnNorms = [Double](repeating: 0, count: f)
        mlp.wDown.elements.withUnsafeBufferPointer { w in
            for r in 0..<dOut { for j in 0..<f { let v = Double(w[r * f + j]); columnNorms[j] += v * v } }
        }
        let scores = (0..<f).map { (raw[$0, $0] + lambda) * columnNorms[$0] }
        let order = scores.indices.sorted { (scores[$0], $1) > (scores[$1], $0) }
        let kept = Array(order.prefix(f - removed)).sorted(), dropped = Array(order.suffix(removed)).sorted()
        statistics.record(layer: layer, site: .downProjectionInput, "channel_scores", scores)
        statistics.record(layer: layer, site: .downProjectionInput, "kept_channels", kept)

        var pruned = mlp
        pruned.keepChannels(kept)
        guard compensation, !dropped.isEmpty else { return (pruned, kept) }
        var ckk = raw.submatrix(rows: kept, columns: kept)
        for i in kept.indices { ckk.elements[i * kept.count + i] += lambda }
        let ckp = raw.submatrix(rows: kept, columns: dropped)
        _ = consume raw
        let t: Matrix<Double>
        do { t = try CholeskyFactor(consume ckk).solve(ckp) } catch {
            throw PruningError("layer \(layer): the covariance of the kept MLP channels is not positive definite after damping (\(error))")
        }
        // Wdown'[:, K] = Wdown[:, K] + Wdown[:, P]·Tᵀ in the [out, in] layout.
        let correction = matmul(mlp.wDown.selectingColumns(dropped).asDouble, t, transposeB: true)
        pruned.wDown = (pruned.wDown.asDouble + correction).asFloat
        return (pruned, kept)
    }
}
