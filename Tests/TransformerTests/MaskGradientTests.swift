import Foundation
import LinAlg
import ModelIO
import TestSupport
import Transformer
import XCTest

/// The reverse-mode pass against central finite differences of the loss. Scaling channel
/// j of a module's output-projection input by (1 + ε) is scaling column j of Wo (or
/// Wdown) by it, so the loss with a perturbed mask is the loss of a perturbed model.
final class MaskGradientTests: XCTestCase {
    enum Site: CaseIterable { case outputProjection, downProjection }

    /// Mean next-token loss of `batch` sequences, as `maskGradients` defines it, from the
    /// forward pass and the scorer (no code of the reverse pass).
    static func loss(_ model: TransformerModel, tokens: [Int32], batch: Int) throws -> Double {
        let length = tokens.count / batch
        let hidden = try model.hiddenStates(tokens: tokens, batch: batch)
        let targets = tokens.indices.map { $0 % length < length - 1 ? tokens[$0 + 1] : -1 }
        return model.negativeLogLikelihoods(hidden: hidden, targets: targets).reduce(0, +) / Double(batch * (length - 1))
    }

    static func scaled(_ model: TransformerModel, layer: Int, site: Site, channel j: Int, by factor: Float) -> TransformerModel {
        var m = model
        switch site {
        case .outputProjection:
            let cols = m.layers[layer].attention.wo.cols
            for r in 0..<m.layers[layer].attention.wo.rows { m.layers[layer].attention.wo.elements[r * cols + j] *= factor }
        case .downProjection:
            let cols = m.layers[layer].mlp.wDown.cols
            for r in 0..<m.layers[layer].mlp.wDown.rows { m.layers[layer].mlp.wDown.elements[r * cols + j] *= factor }
        }
        return m
    }

    static func finiteDifference(_ model: TransformerModel, tokens: [Int32], batch: Int, layer: Int, site: Site, channel: Int,
                                 epsilon: Float) throws -> Double {
        let up = try loss(scaled(model, layer: layer, site: site, channel: channel, by: 1 + epsilon), tokens: tokens, batch: batch)
        let down = try loss(scaled(model, layer: layer, site: site, channel: channel, by: 1 - epsilon), tokens: tokens, batch: batch)
        return (up - down) / (2 * Double(epsilon))
    }

    /// Every channel of both sites in every layer of each tiny family (llama; qwen2 with
    /// QKV biases and an untied head; gemma3 with q/k norms, post-norms, GeGLU and a
    /// sliding window shorter than the sequence; a pruned model with per-layer head counts,
    /// Q/K narrower than V/O, a non-uniform KV map and gathered RoPE frequencies), two
    /// sequences of 12: ‖g − fd‖ / ‖fd‖ < 1e-2 per site and layer (Float32 forward, ε = 1e-2).
    func testEverySiteOfEveryTinyFamilyMatchesFiniteDifferences() throws {
        for variant in ["llama", "qwen2", "gemma3", "pruned"] {
            let model = TinyModels.model(variant, seed: 7)
            var rng = SeededGenerator(seed: 3)
            let tokens = (0..<24).map { _ in Int32.random(in: 0..<Int32(model.vocabularySize), using: &rng) }
            let gradients = try model.maskGradients(tokens: tokens, batch: 2)
            XCTAssertEqual(gradients.loss, try Self.loss(model, tokens: tokens, batch: 2), accuracy: 1e-5, variant)
            for layer in model.layers.indices {
                for site in Site.allCases {
                    let analytic = site == .outputProjection ? gradients.outputProjection[layer] : gradients.downProjection[layer]
                    let numeric = try analytic.indices.map {
                        try Self.finiteDifference(model, tokens: tokens, batch: 2, layer: layer, site: site, channel: $0, epsilon: 1e-2)
                    }
                    let error = zip(analytic, numeric).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
                    let size = numeric.map { $0 * $0 }.reduce(0, +).squareRoot()
                    XCTAssertLessThan(error / size, 1e-2, "\(variant) layer \(layer) \(site): ‖g − fd‖/‖fd‖")
                }
            }
        }
    }
}

extension MaskGradientTests {
    /// SmolLM2-135M on the 32 tokens of its forward reference: in the first, a middle and
    /// the last layer, the four channels of each site with the largest gradients (the ones
    /// the allocation ranks highest) agree with central differences within 1e-2 relative.
    func testSmolLM2SampledChannelsMatchFiniteDifferences() throws {
        guard let asset = AssetRegistry.asset(named: "smollm2-135m", kind: .model), asset.isPresent else {
            throw XCTSkip("smollm2-135m is not cached; run Scripts/fetch-assets.sh")
        }
        struct Reference: Decodable { let input_ids: [Int32] }
        let url = repositoryRoot.appendingPathComponent("Baselines/forward/smollm2-135m.logits.json")
        let tokens = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url)).input_ids
        let model = try GGUFLoader.load(GGUFFile(path: asset.url.path))
        let gradients = try model.maskGradients(tokens: tokens)
        for layer in [0, model.layers.count / 2, model.layers.count - 1] {
            for site in Site.allCases {
                let analytic = site == .outputProjection ? gradients.outputProjection[layer] : gradients.downProjection[layer]
                let largest = analytic.indices.sorted { abs(analytic[$0]) > abs(analytic[$1]) }.prefix(4)
                for channel in largest {
                    let numeric = try Self.finiteDifference(model, tokens: tokens, batch: 1, layer: layer, site: site, channel: channel, epsilon: 2e-2)
                    XCTAssertEqual(analytic[channel], numeric, accuracy: 1e-2 * abs(numeric), "layer \(layer) \(site) channel \(channel)")
                }
            }
        }
    }
}

extension MaskGradientTests {
    struct AutogradReference: Decodable {
        struct Layer: Decodable {
            let wo_input: [Double]
            let wdown_input: [Double]
        }
        let input_ids: [Int32]
        let loss: Double
        let layers: [String: Layer]
    }

    /// The real checkpoints against PyTorch autograd in float64 (Baselines/gradients:
    /// mask_gradients.py, masks hooked in front of o_proj and down_proj as the IntraSlice
    /// code does), every channel of the first, middle and last layer: ‖g − g_ref‖/‖g_ref‖
    /// < 1e-3 per site (Float32 against float64; measured 1.7e-5 to 1.8e-4), and the loss
    /// within 1e-4.
    func checkAgainstAutograd(_ id: String) throws {
        guard let asset = AssetRegistry.asset(named: id, kind: .model), asset.isPresent else {
            throw XCTSkip("\(id) is not cached; run Scripts/fetch-assets.sh --all-models")
        }
        let url = repositoryRoot.appendingPathComponent("Baselines/gradients/\(id).mask_gradients.json")
        let reference = try JSONDecoder().decode(AutogradReference.self, from: Data(contentsOf: url))
        let model = try GGUFLoader.load(GGUFFile(path: asset.url.path))
        let gradients = try model.maskGradients(tokens: reference.input_ids)
        XCTAssertEqual(gradients.loss, reference.loss, accuracy: 1e-4, id)
        for (key, layer) in reference.layers {
            let index = Int(key)!
            for (analytic, expected, site) in [(gradients.outputProjection[index], layer.wo_input, "wo_input"),
                                               (gradients.downProjection[index], layer.wdown_input, "wdown_input")] {
                XCTAssertEqual(analytic.count, expected.count, "\(id) layer \(index) \(site)")
                let error = zip(analytic, expected).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
                let size = expected.map { $0 * $0 }.reduce(0, +).squareRoot()
                XCTAssertLessThan(error / size, 1e-3, "\(id) layer \(index) \(site): ‖g − g_ref‖/‖g_ref‖")
            }
        }
    }

    func testSmolLM2MatchesAutograd() throws { try checkAgainstAutograd("smollm2-135m") }
    func testQwen2MatchesAutograd() throws { try checkAgainstAutograd("qwen2.5-0.5b") }
    func testGemma3MatchesAutograd() throws { try checkAgainstAutograd("gemma3-270m") }
}

extension MaskGradientTests {
    /// The pass on a streamed SmolLM2 (layers converted from the mapped GGUF one at a time,
    /// each twice) gives the resident pass's gradients and loss to the bit.
    func testStreamedLayersGiveTheResidentGradientsBitForBit() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m is not cached; run Scripts/fetch-assets.sh")
        }
        let tokens = (0..<48).map { Int32(($0 * 7919) % 49_152) }
        let resident = try ModelLoader.load("smollm2-135m")
        let streamed = try ModelLoader.load("smollm2-135m", streamed: true)
        let source = try XCTUnwrap(streamed.streamedLayers)
        XCTAssertTrue(streamed.model.layers.allSatisfy(\.isUnloaded), "the streamed model holds no layer")
        let a = try resident.model.maskGradients(tokens: tokens)
        let b = try streamed.model.maskGradients(tokens: tokens, layers: source)
        XCTAssertEqual(a.loss.bitPattern, b.loss.bitPattern)
        XCTAssertEqual(a.outputProjection, b.outputProjection)
        XCTAssertEqual(a.downProjection, b.downProjection)
    }
}
