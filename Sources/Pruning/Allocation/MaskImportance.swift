import Foundation
import LinAlg
import Transformer

/// The importances IntraSlice's global allocation ranks (METHODS.md §4c, as its code
/// computes them): mask gradients of the dense model on each calibration sequence, summed
/// over groups of `groupSize` sequences; an MLP neuron scores Σ_groups g²; an attention
/// unit (a block of channels of one head) scores Σ_groups (Σ_unit g)², the head's
/// gradient first rotated into its KV group's PCA basis for `global_pca`.
public struct MaskImportance: Sendable {
    /// Per layer, per unit (head h's units are h·unitsPerHead …).
    public let attentionUnits: [[Double]]
    /// Per layer, per MLP neuron.
    public let neurons: [[Double]]
    /// Mean loss of the calibration sequences on the dense model.
    public let loss: Double
    /// The layers as `GlobalAllocation` ranks them: these importances with each unit's and
    /// neuron's parameter cost, read off the dense layers' shapes.
    public let allocationLayers: [GlobalAllocation.Layer]

    /// Runs the reverse pass over every window (one sequence per call, as the reference
    /// does); `progress` hears (windows done, windows). After each group of windows the sums
    /// so far go to `save` (the last time with `complete`); a run given them as `resume`
    /// continues after them and ends with the same bits.
    public static func estimate(_ model: TransformerModel, windows: [[Int32]], settings: AllocationSettings, layers source: LayerSource? = nil,
                                resume: ImportanceProgress? = nil, save: (ImportanceProgress, _ complete: Bool) throws -> Void = { _, _ in },
                                progress: (Int, Int) -> Void = { _, _ in }) throws -> MaskImportance {
        precondition(settings.allocation != .uniform, "the uniform allocation needs no importances")
        let layerCount = source?.layerCount ?? model.layers.count
        let layer = { (index: Int) throws -> DecoderLayer in try source?.layer(index) ?? model.layers[index] }
        let dense = try (0..<layerCount).map { index -> (attention: Attention, attentionParameters: Int, mlpParameters: Int, width: Int) in
            let l = try layer(index)
            return (l.attention, l.attention.parameterCount, l.mlp.parameterCount, l.mlp.width)
        }
        let shapes = dense.map(\.attention)
        for (index, attention) in shapes.enumerated() where attention.vHeadDim % settings.unitsPerHead != 0 {
            throw PruningError("layer \(index): a head of \(attention.vHeadDim) channels does not split into \(settings.unitsPerHead) units")
        }
        let covariances = settings.allocation == .globalPCA ? GroupCovariances(shapes) : nil
        let widths = shapes.map(\.outputInputWidth), mlpWidths = dense.map(\.width)
        var groupSums: [[[Double]]] = []
        var current = widths.map { [Double](repeating: 0, count: $0) }
        var neurons = mlpWidths.map { [Double](repeating: 0, count: $0) }
        var currentNeurons = neurons
        var loss = 0.0
        var first = 0
        if let resume {
            first = resume.windowsDone
            guard first <= windows.count, let saved = resume.arrays["neurons"], let sums = resume.arrays["group_sums"],
                  let savedLoss = resume.arrays["loss"]?.first, saved.count == mlpWidths.reduce(0, +),
                  sums.count % max(1, widths.reduce(0, +)) == 0 else {
                throw PruningError("the saved allocation state does not fit this model; delete the .resume folder to start afresh")
            }
            neurons = split(saved, widths: mlpWidths)
            let perGroup = widths.reduce(0, +)
            groupSums = stride(from: 0, to: sums.count, by: perGroup).map { split(Array(sums[$0..<($0 + perGroup)]), widths: widths) }
            loss = savedLoss
            try covariances?.restore(resume.arrays)
        }
        func state(_ done: Int) -> ImportanceProgress {
            var arrays = ["neurons": neurons.flatMap { $0 }, "group_sums": groupSums.flatMap { $0.flatMap { $0 } }, "loss": [loss]]
            covariances?.save(into: &arrays)
            return ImportanceProgress(windowsDone: done, arrays: arrays)
        }
        for (w, window) in windows.enumerated() where w >= first {
            let g = try model.maskGradients(tokens: window, layers: source, observer: covariances)
            loss += g.loss
            for l in 0..<layerCount {
                for j in current[l].indices { current[l][j] += g.outputProjection[l][j] }
                for j in currentNeurons[l].indices { currentNeurons[l][j] += g.downProjection[l][j] }
            }
            if (w + 1) % settings.groupSize == 0 || w == windows.count - 1 {
                groupSums.append(current)
                for l in 0..<layerCount {
                    for j in neurons[l].indices { neurons[l][j] += currentNeurons[l][j] * currentNeurons[l][j] }
                    current[l] = [Double](repeating: 0, count: current[l].count)
                    currentNeurons[l] = [Double](repeating: 0, count: currentNeurons[l].count)
                }
                try save(state(w + 1), w == windows.count - 1)
            }
            progress(w + 1, windows.count)
        }
        let bases = try covariances?.bases()
        let units = shapes.enumerated().map { l, attention -> [Double] in
            let dv = attention.vHeadDim, unit = dv / settings.unitsPerHead
            var scores = [Double](repeating: 0, count: attention.numHeads * settings.unitsPerHead)
            for sums in groupSums {
                for h in 0..<attention.numHeads {
                    var head = Array(sums[l][(h * dv)..<((h + 1) * dv)])
                    if let basis = bases?[l][attention.kvHeadOfQueryHead[h]] {
                        head = (0..<dv).map { c in (0..<dv).reduce(0) { $0 + head[$1] * basis[$1, c] } }
                    }
                    for u in 0..<settings.unitsPerHead {
                        let total = head[(u * unit)..<((u + 1) * unit)].reduce(0, +)
                        scores[h * settings.unitsPerHead + u] += total * total
                    }
                }
            }
            return scores
        }
        let allocationLayers = dense.indices.map { l in
            GlobalAllocation.Layer(attentionUnits: units[l], unitCost: Double(dense[l].attentionParameters) / Double(units[l].count),
                                   neurons: neurons[l], neuronCost: Double(dense[l].mlpParameters) / Double(dense[l].width))
        }
        return MaskImportance(attentionUnits: units, neurons: neurons, loss: loss / Double(max(1, windows.count)), allocationLayers: allocationLayers)
    }
}

/// The estimator part-way, as named arrays of exact values (`PruneCheckpoints` keeps them).
public struct ImportanceProgress: Sendable {
    /// Windows whose gradients are in the sums: a whole number of groups.
    public let windowsDone: Int
    public let arrays: [String: [Double]]
}

/// `values` cut into consecutive pieces of the given widths.
private func split(_ values: [Double], widths: [Int]) -> [[Double]] {
    var start = 0
    return widths.map { w in defer { start += w }; return Array(values[start..<(start + w)]) }
}

/// Σ zᵀz of each KV group's Wo-input channels, summed over the group's query heads (the
/// basis IntraSlice's V/O step shares within a group), accumulated while the gradient
/// pass runs forward.
private final class GroupCovariances: ActivationObserver {
    private let shapes: [Attention]
    private var sums: [[CovarianceAccumulator]]

    init(_ shapes: [Attention]) {
        self.shapes = shapes
        sums = shapes.map { a in (0..<a.numKVHeads).map { _ in CovarianceAccumulator(dimension: a.vHeadDim) } }
    }

    func wants(layer: Int, site: CaptureSite) -> Bool { site == .outputProjectionInput }

    func observe(layer: Int, site: CaptureSite, activations: UnsafeBufferPointer<Float>, rows: Int, width: Int) throws {
        let a = shapes[layer], dv = a.vHeadDim
        var head = [Float](repeating: 0, count: rows * dv)
        for h in 0..<a.numHeads {
            for r in 0..<rows {
                for j in 0..<dv { head[r * dv + j] = activations[r * width + h * dv + j] }
            }
            try head.withUnsafeBufferPointer { try sums[layer][a.kvHeadOfQueryHead[h]].add($0, rows: rows, label: "layer \(layer) head \(h) wo_input") }
        }
    }

    /// The sums and row counts as named arrays (`covariance_L_G`, `covariance_counts`).
    func save(into arrays: inout [String: [Double]]) {
        var counts: [Double] = []
        for (l, groups) in sums.enumerated() {
            for (g, sum) in groups.enumerated() {
                arrays["covariance_\(l)_\(g)"] = sum.matrix.elements
                counts.append(Double(sum.count))
            }
        }
        arrays["covariance_counts"] = counts
    }

    func restore(_ arrays: [String: [Double]]) throws {
        guard let counts = arrays["covariance_counts"], counts.count == sums.reduce(0, { $0 + $1.count }) else {
            throw PruningError("the saved allocation state has no PCA covariances for this model; delete the .resume folder to start afresh")
        }
        var next = 0
        for l in sums.indices {
            for g in sums[l].indices {
                let n = sums[l][g].dimension
                guard let values = arrays["covariance_\(l)_\(g)"], values.count == n * n else {
                    throw PruningError("the saved allocation state lacks the covariance of layer \(l) group \(g); delete the .resume folder")
                }
                sums[l][g] = CovarianceAccumulator(continuing: Matrix(rows: n, cols: n, elements: values), count: Int(counts[next]))
                next += 1
            }
        }
    }

    /// Per layer and KV group, the eigenvectors (columns, eigenvalues descending).
    func bases() throws -> [[Matrix<Double>]] {
        try sums.map { groups in try groups.map { try symmetricEigen($0.matrix).vectors } }
    }
}
