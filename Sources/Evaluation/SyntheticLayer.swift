import Foundation
import LinAlg
import Transformer

/// The shape of one Llama-style decoder layer, for timing a layer in isolation. IntraSlice
/// times one Llama-2-13B layer; pruned shapes (fewer heads, smaller head sizes, a narrower
/// MLP) are given the same way, so dense and pruned layers are compared in one process.
public struct LayerShape: Sendable, Equatable {
    public var hidden: Int
    public var heads: Int
    public var kvHeads: Int
    public var qkHeadDim: Int
    public var vHeadDim: Int
    public var ffn: Int

    public init(hidden: Int, heads: Int, kvHeads: Int, qkHeadDim: Int, vHeadDim: Int, ffn: Int) {
        self.hidden = hidden
        self.heads = heads
        self.kvHeads = kvHeads
        self.qkHeadDim = qkHeadDim
        self.vHeadDim = vHeadDim
        self.ffn = ffn
    }

    /// Llama-2-13B: D = 5120, 40 heads of 128, MLP 13824.
    public static let llama2_13B = LayerShape(hidden: 5120, heads: 40, kvHeads: 40, qkHeadDim: 128, vHeadDim: 128, ffn: 13824)

    /// Widths times `factor` (head count and MLP width rounded, head size kept): the same
    /// proportions on a machine too small for the full layer.
    public func scaled(by factor: Double) -> LayerShape {
        let heads = max(1, Int((Double(self.heads) * factor).rounded()))
        let kvHeads = max(1, Int((Double(self.kvHeads) * factor).rounded()))
        return LayerShape(hidden: heads * qkHeadDim, heads: heads, kvHeads: min(kvHeads, heads), qkHeadDim: qkHeadDim,
                          vHeadDim: vHeadDim, ffn: max(8, Int((Double(ffn) * factor / 8).rounded()) * 8))
    }

    public var parameterCount: Int {
        hidden * (heads * qkHeadDim + kvHeads * qkHeadDim + kvHeads * vHeadDim) + heads * vHeadDim * hidden + 3 * hidden * ffn + 2 * hidden
    }

    public var description: String {
        "D=\(hidden), \(heads) heads (\(kvHeads) KV) of \(qkHeadDim)/\(vHeadDim), MLP \(ffn)"
    }

    /// A one-layer model of this shape with random weights and an 8-token vocabulary, so
    /// that embedding and LM head cost nothing next to the layer.
    public func model(seed: UInt64 = 0) -> TransformerModel {
        var rng = SeededGenerator(seed: seed)
        func random(_ rows: Int, _ cols: Int) -> Matrix<Float> {
            var m = Matrix<Float>.random(rows: rows, cols: cols, using: &rng)
            let scale = 1 / Float(cols).squareRoot()
            for i in m.elements.indices { m.elements[i] *= scale }
            return m
        }
        let ones = [Float](repeating: 1, count: hidden)
        let attention = Attention(numHeads: heads, numKVHeads: kvHeads, qkHeadDim: qkHeadDim, vHeadDim: vHeadDim,
                                  ropeInverseFrequencies: RoPE.inverseFrequencies(headDim: qkHeadDim, base: 10_000, scaling: nil),
                                  wq: random(heads * qkHeadDim, hidden), wk: random(kvHeads * qkHeadDim, hidden),
                                  wv: random(kvHeads * vHeadDim, hidden), wo: random(hidden, heads * vHeadDim))
        let mlp = MLP(wGate: random(ffn, hidden), wUp: random(ffn, hidden), wDown: random(hidden, ffn), activation: .silu)
        let config = ModelConfig(modelType: "llama", hiddenSize: hidden, intermediateSize: ffn, numHiddenLayers: 1,
                                 numAttentionHeads: heads, numKeyValueHeads: kvHeads, vocabSize: 8, rmsNormEps: 1e-5, ropeTheta: 10_000)
        return TransformerModel(config: config, architecture: .llama, embedding: random(8, hidden),
                                layers: [DecoderLayer(attentionNorm: ones, attention: attention, mlpNorm: ones, mlp: mlp)],
                                finalNorm: ones, lmHead: nil, normEps: 1e-5)
    }
}
