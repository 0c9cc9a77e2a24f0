import Foundation

/// IntraSlice's global allocation (METHODS.md §4c, as its code does it): MLP neurons and
/// attention units of all layers are ranked by importance; the most important neurons are
/// kept up to (1 − mlpShare·s) of all neurons, the attention units fill what is left of the
/// kept-parameter budget at their real parameter cost (the next neurons in rank take what
/// no whole unit fits in), and each layer's attention and MLP
/// ratio is what it lost. A ratio above the cap is cut to it and the excess handed to the
/// layers below it, in proportion to their ratios, so the total stays the same.
public enum GlobalAllocation {
    /// One layer as the allocation sees it.
    public struct Layer: Sendable {
        /// Importance of each attention unit (a block of a head's channels).
        public let attentionUnits: [Double]
        /// Parameters one unit carries (its share of Wq, Wk, Wv, Wo and biases).
        public let unitCost: Double
        /// Importance of each MLP neuron.
        public let neurons: [Double]
        /// Parameters one neuron carries (its Wgate and Wup rows and its Wdown column).
        public let neuronCost: Double

        public init(attentionUnits: [Double], unitCost: Double, neurons: [Double], neuronCost: Double) {
            self.attentionUnits = attentionUnits
            self.unitCost = unitCost
            self.neurons = neurons
            self.neuronCost = neuronCost
        }

        var attentionParameters: Double { Double(attentionUnits.count) * unitCost }
        var mlpParameters: Double { Double(neurons.count) * neuronCost }
    }

    /// Per-layer ratios removing `target` of `decoderParameters` (norms included, which
    /// no unit carries, so the units give up that much more).
    public static func ratios(_ layers: [Layer], target: Double, decoderParameters: Int, settings: AllocationSettings) throws -> [ModuleRatios] {
        let prunable = layers.reduce(0) { $0 + $1.attentionParameters + $1.mlpParameters }
        let removed = target * Double(decoderParameters)
        guard removed <= settings.cap * prunable else {
            throw PruningError("removing \(target) of the decoder parameters needs more than the cap of \(settings.cap) of every module")
        }
        let share = removed / prunable

        // Neurons: the globally most important ones, (1 − mlpShare·share) of all of them.
        let neurons = ranked(layers.enumerated().flatMap { l, layer in layer.neurons.enumerated().map { (importance: $1, layer: l, index: $0) } })
        let keptNeurons = min(neurons.count, max(0, Int((Double(neurons.count) * (1 - settings.mlpShare * share)).rounded())))
        var neuronsKept = [Int](repeating: 0, count: layers.count)
        var budget = prunable - removed
        for unit in neurons.prefix(keptNeurons) {
            neuronsKept[unit.layer] += 1
            budget -= layers[unit.layer].neuronCost
        }
        // Attention units: the most important ones while the kept budget lasts.
        let units = layers.enumerated().flatMap { l, layer in layer.attentionUnits.enumerated().map { (importance: $1, layer: l, index: $0) } }
        var unitsKept = [Int](repeating: 0, count: layers.count)
        for unit in ranked(units) {
            let cost = layers[unit.layer].unitCost
            guard cost <= budget + 1e-9 else { break }
            unitsKept[unit.layer] += 1
            budget -= cost
        }
        // What no whole unit fits in goes to the next neurons in rank, so the budget is met
        // to within one neuron rather than one unit (a whole head is 0.1 % of SmolLM2's layers).
        for unit in neurons.dropFirst(keptNeurons) {
            let cost = layers[unit.layer].neuronCost
            guard cost <= budget + 1e-9 else { break }
            neuronsKept[unit.layer] += 1
            budget -= cost
        }
        let uncappedAttention = layers.indices.map { 1 - Double(unitsKept[$0]) / Double(max(1, layers[$0].attentionUnits.count)) }
        let uncappedMLP = layers.indices.map { 1 - Double(neuronsKept[$0]) / Double(max(1, layers[$0].neurons.count)) }
        let attention = capped(uncappedAttention, sizes: layers.map(\.attentionParameters), cap: settings.cap)
        let mlp = capped(uncappedMLP, sizes: layers.map(\.mlpParameters), cap: settings.cap)
        func spent(_ a: [Double], _ m: [Double]) -> Double {
            layers.indices.reduce(0) { $0 + a[$1] * layers[$1].attentionParameters + m[$1] * layers[$1].mlpParameters }
        }
        guard abs(spent(attention, mlp) - spent(uncappedAttention, uncappedMLP)) <= 1e-6 * prunable else {
            throw PruningError("the cap of \(settings.cap) leaves no layer to take the excess of \(target) of the decoder parameters")
        }
        return zip(attention, mlp).map { ModuleRatios(attention: $0, mlp: $1) }
    }

    /// Descending importance; equal importances in layer, then index order (stable).
    private static func ranked(_ units: [(importance: Double, layer: Int, index: Int)]) -> [(importance: Double, layer: Int, index: Int)] {
        units.sorted { ($0.importance, -$0.layer, -$0.index) > ($1.importance, -$1.layer, -$1.index) }
    }

    /// Ratios cut to `cap`; the parameters over it (ratio × size) go to the layers between
    /// 0 and the cap in proportion to their ratios, repeated until none is over. The sum of
    /// ratio × size is kept (the caller made sure it fits under the cap).
    static func capped(_ ratios: [Double], sizes: [Double], cap: Double) -> [Double] {
        var r = ratios
        for _ in 0..<r.count {
            var excess = 0.0
            for i in r.indices where r[i] > cap {
                excess += (r[i] - cap) * sizes[i]
                r[i] = cap
            }
            let receivers = r.indices.filter { r[$0] > 0 && r[$0] < cap }
            let weight = receivers.reduce(0) { $0 + r[$1] * sizes[$1] }
            guard excess > 1e-9, weight > 0 else { break }
            for i in receivers { r[i] += excess * r[i] / weight }
        }
        return r
    }
}
