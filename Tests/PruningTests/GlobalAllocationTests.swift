import LinAlg
@testable import Pruning
import XCTest

/// The allocation's arithmetic on made-up importances: it spends the requested budget and
/// keeps every ratio under the cap.
final class GlobalAllocationTests: XCTestCase {
    /// Four layers shaped like SmolLM2's (9 heads, 1536 neurons, D = 576), importances
    /// random but larger in later layers; the norms (2·576 per layer) count in the decoder.
    static func layers(seed: UInt64, skew: (Int) -> Double = { Double($0 + 1) }) -> (layers: [GlobalAllocation.Layer], decoder: Int) {
        var rng = SeededGenerator(seed: seed)
        let d = 576.0, heads = 9, neurons = 1536
        let unitCost = d * 64 * (2 + 2 * 3.0 / 9), neuronCost = 3 * d
        let layers = (0..<4).map { l in
            GlobalAllocation.Layer(attentionUnits: (0..<heads).map { _ in skew(l) * Double.random(in: 0..<1, using: &rng) }, unitCost: unitCost,
                                   neurons: (0..<neurons).map { _ in skew(l) * Double.random(in: 0..<1, using: &rng) }, neuronCost: neuronCost)
        }
        let decoder = layers.reduce(0) { $0 + Int(Double($1.attentionUnits.count) * $1.unitCost + Double($1.neurons.count) * $1.neuronCost) } + 4 * 2 * 576
        return (layers, decoder)
    }

    static func removed(_ ratios: [ModuleRatios], _ layers: [GlobalAllocation.Layer]) -> Double {
        zip(ratios, layers).reduce(0) {
            $0 + $1.0.attention * Double($1.1.attentionUnits.count) * $1.1.unitCost + $1.0.mlp * Double($1.1.neurons.count) * $1.1.neuronCost
        }
    }

    func testTheRequestedDecoderReductionIsMetWithinHalfAPercentUnderTheCap() throws {
        for target in [0.2, 0.3, 0.5] {
            let (layers, decoder) = Self.layers(seed: 11)
            let settings = AllocationSettings(allocation: .global)
            let ratios = try GlobalAllocation.ratios(layers, target: target, decoderParameters: decoder, settings: settings)
            let reduction = Self.removed(ratios, layers) / Double(decoder)
            XCTAssertEqual(reduction, target, accuracy: 0.005 * target, "target \(target)")
            XCTAssertTrue(ratios.allSatisfy { $0.attention <= settings.cap + 1e-12 && $0.mlp <= settings.cap + 1e-12 }, "\(ratios)")
            // Later layers matter more here, so the first layer loses the most.
            XCTAssertGreaterThan(ratios[0].mlp, ratios[3].mlp, "target \(target)")
        }
    }

    /// Layer 0's neurons are a thousand times less important than the rest: ranked alone it
    /// would lose every neuron; the cap keeps it at 0.8 and the other layers take the excess,
    /// so the budget is still met.
    func testTheCapRedistributesTheExcessAndKeepsTheBudget() throws {
        let (layers, decoder) = Self.layers(seed: 5) { $0 == 0 ? 0.001 : 1 }
        let settings = AllocationSettings(allocation: .global, cap: 0.8)
        let ratios = try GlobalAllocation.ratios(layers, target: 0.3, decoderParameters: decoder, settings: settings)
        // Without the cap the first layer's MLP would go entirely.
        let uncapped = try GlobalAllocation.ratios(layers, target: 0.3, decoderParameters: decoder,
                                                   settings: AllocationSettings(allocation: .global, cap: 1))
        XCTAssertEqual(uncapped[0].mlp, 1, accuracy: 1e-12)
        XCTAssertEqual(ratios[0].mlp, 0.8, accuracy: 1e-12)
        for l in 1..<4 {
            XCTAssertGreaterThan(ratios[l].mlp, uncapped[l].mlp, "layer \(l) takes part of the excess")
            XCTAssertLessThan(ratios[l].mlp, 0.8)
        }
        XCTAssertEqual(Self.removed(ratios, layers) / Double(decoder), 0.3, accuracy: 0.005 * 0.3)
        XCTAssertEqual(Self.removed(ratios, layers), Self.removed(uncapped, layers), accuracy: 1e-6 * Double(decoder))
    }

    func testABudgetNoCapCanHoldIsRefused() {
        let (layers, decoder) = Self.layers(seed: 5)
        XCTAssertThrowsError(try GlobalAllocation.ratios(layers, target: 0.9, decoderParameters: decoder, settings: AllocationSettings(cap: 0.8))) {
            XCTAssertTrue("\($0)".contains("cap"), "\($0)")
        }
    }
}
