import Foundation
import LinAlg
import Transformer

/// Magnitude-sp and Wanda-sp (FLAP's structured baselines): per layer and uniform, remove
/// the lowest-scoring MLP channels (rows of Wdown, columns of Wgate and Wup) and whole KV
/// groups of attention (a KV head with its query heads), with no compensation.
///
/// Scores, over the inputs j of the output projection (Wdown, or Wo grouped by KV head):
/// magnitude ‖W[:, j]‖² (Wo: summed over the group's columns), Wanda ‖x_j‖₂·Σ_i|W[i, j]|
/// with x_j the calibration activation of input j.
struct StructuredPruning: PruningMethod {
    enum Scoring: String { case magnitude, wanda }
    let scoring: Scoring

    var name: String { scoring.rawValue }
    var needsCalibration: Bool { scoring == .wanda }
    /// Per layer, how many KV groups and MLP channels stay follows from its ratio; the data
    /// only chooses which.
    var shapesFollowRatio: Bool { true }

    func check(_ adapter: ArchitectureAdapter) throws {}

    func prune(_ model: inout TransformerModel, context: PruningContext) throws -> PruningStatistics {
        var statistics = PruningStatistics()
        let flow = try needsCalibration
            ? context.calibrationFlow(model, for: name)
            : nil
        let start = try context.resume(&model, flow: flow, statistics: &statistics).nextLayer
        for index in start..<model.layers.count {
            try context.enter(index, &model)
            let layer = model.layers[index]
            let plan = context.budget(for: layer, index: index)
            let groupsRemoved = plan.groupsRemoved

            // Attention: score each KV group, drop the lowest.
            var woInputs = GroupedRows([]), woInputNorms: [Double]? = nil
            if let flow {
                let observer = ChannelNormObserver(layer: index, site: .outputProjectionInput)
                woInputs = try flow.outputProjectionInputs(model, observer: observer)
                woInputNorms = observer.norms
            }
            let a = layer.attention
            let columnScores = inputScores(a.wo, activationNorms: woInputNorms)
            let groupScores = (0..<a.numKVHeads).map { g in
                a.queryHeads(ofKVHead: g).reduce(0.0) { sum, h in sum + Attention.span(head: h, size: a.vHeadDim).reduce(0.0) { $0 + columnScores[$1] } }
            }
            let keptGroups = Set(lowest(groupScores, count: groupsRemoved).complement(in: a.numKVHeads))
            let keptHeads = (0..<a.numHeads).filter { keptGroups.contains(a.kvHeadOfQueryHead[$0]) }
            model.layers[index].attention = a.keepingQueryHeads(keptHeads)
            statistics.record(layer: index, site: .outputProjectionInput, "group_scores", groupScores)
            statistics.record(layer: index, site: .outputProjectionInput, "kept_query_heads", keptHeads)

            // MLP, on activations that went through the pruned attention.
            var middle = GroupedRows([]), downInputs = GroupedRows([])
            var downInputNorms: [Double]? = nil
            if let flow {
                middle = try flow.middleKeeping(Attention.spans(heads: keptHeads, size: a.vHeadDim), of: model, woInputs: woInputs)
                woInputs = GroupedRows([])  // released before the MLP's larger activations are made
                let observer = ChannelNormObserver(layer: index, site: .downProjectionInput)
                downInputs = try flow.downProjectionInputs(model, middle: middle, observer: observer)
                downInputNorms = observer.norms
            }
            let channelScores = inputScores(layer.mlp.wDown, activationNorms: downInputNorms)
            let removed = plan.mlpChannelsRemoved(afterAttention: model.layers[index].attention)
            let kept = lowest(channelScores, count: removed).complement(in: layer.mlp.width)
            model.layers[index].mlp.keepChannels(kept)
            statistics.record(layer: index, site: .downProjectionInput, "channel_scores", channelScores)
            statistics.record(layer: index, site: .downProjectionInput, "kept_channels", kept)

            if let flow { flow.advance(to: try flow.outputsKeeping(kept, of: model, downInputs: downInputs, middle: middle)) }
            context.progress("layer \(index + 1)/\(model.layers.count): kept \(keptHeads.count)/\(a.numHeads) query heads, "
                             + "\(kept.count)/\(layer.mlp.width) MLP channels")
            try context.layerFinished(index, model: &model, flow: flow, statistics: statistics)
        }
        return statistics
    }

    /// Per input column j of W ([out, in]): ‖W[:, j]‖², or ‖x_j‖·Σ_i|W[i, j]| with activation norms.
    private func inputScores(_ w: Matrix<Float>, activationNorms: [Double]?) -> [Double] {
        var squares = [Double](repeating: 0, count: w.cols), absolutes = [Double](repeating: 0, count: w.cols)
        for r in 0..<w.rows { for j in 0..<w.cols {
            let v = Double(w.elements[r * w.cols + j])
            squares[j] += v * v
            absolutes[j] += abs(v)
        } }
        guard let activationNorms else { return squares }
        return zip(activationNorms, absolutes).map { $0 * $1 }
    }
}

/// How much of one layer a uniform structured method removes: whole KV groups from
/// attention, multiples of 8 channels from the MLP. With a parameter ratio, the MLP
/// takes up whatever the coarse attention step left over, so that the layer's
/// parameter reduction comes as close to the ratio as 8-channel steps allow.
struct LayerBudget {
    let layer: DecoderLayer
    let ratio: PruningRatio
    /// This layer's share from a global allocation (nil: the ratio, uniformly).
    var modules: ModuleRatios? = nil

    /// The fraction of the attention's channels (or KV groups) to remove.
    var attentionRatio: Double { modules?.attention ?? ratio.value }

    var groupsRemoved: Int {
        let groups = layer.attention.numKVHeads
        return min(groups - 1, Int((attentionRatio * Double(groups)).rounded()))
    }

    func mlpChannelsRemoved(afterAttention attention: Attention) -> Int {
        let f = layer.mlp.width
        switch ratio.kind {
        case .slicing:
            return min(roundedDownToEight(Int(((modules?.mlp ?? ratio.value) * Double(f)).rounded())), f - 8)
        case .params:
            let target = modules.map { $0.attention * Double(layer.attention.parameterCount) + $0.mlp * Double(layer.mlp.parameterCount) }
                ?? ratio.value * Double(layer.parameterCount)
            let removedByAttention = Double(layer.attention.parameterCount - attention.parameterCount)
            let perChannel = Double(layer.mlp.parameterCount / f)
            let channels = max(0, (target - removedByAttention) / perChannel)
            return min(f - 8, 8 * Int((channels / 8).rounded()))
        }
    }
}

/// Accumulates Σ_t x_tj² per channel j at one site of one layer, and gives ‖x_j‖₂.
final class ChannelNormObserver: ActivationObserver {
    let layer: Int
    let site: CaptureSite
    private var sums: [Double] = []

    init(layer: Int, site: CaptureSite) {
        self.layer = layer
        self.site = site
    }

    func wants(layer: Int, site: CaptureSite) -> Bool { layer == self.layer && site == self.site }

    func observe(layer: Int, site: CaptureSite, activations: UnsafeBufferPointer<Float>, rows: Int, width: Int) throws {
        if sums.isEmpty { sums = [Double](repeating: 0, count: width) }
        sums.withUnsafeMutableBufferPointer { s in
            for r in 0..<rows {
                let row = activations.baseAddress! + r * width
                for j in 0..<width { s[j] += Double(row[j] * row[j]) }
            }
        }
    }

    var norms: [Double] { sums.map { $0.squareRoot() } }
}

/// Indices of the `count` smallest scores (ties by index).
func lowest(_ scores: [Double], count: Int) -> [Int] {
    Array(scores.indices.sorted { (scores[$0], $0) < (scores[$1], $1) }.prefix(count))
}

extension Array where Element == Int {
    /// The indices in 0..<n not in this array, ascending.
    func complement(in n: Int) -> [Int] {
        let removed = Set(self)
        return (0..<n).filter { !removed.contains($0) }
    }
}
