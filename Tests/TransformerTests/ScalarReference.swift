import Foundation
import LinAlg
@testable import Transformer

/// A deliberately plain forward pass in Double: one token at a time, explicit loops,
/// the textbook definitions. It shares no code with the real forward pass, which it checks.
struct ScalarReference {
    let model: TransformerModel
    /// Wo inputs seen per layer (token-major), for checking the capture sites.
    var outputProjectionInputs: [[[Double]]] = []

    init(_ model: TransformerModel) { self.model = model }

    static func linear(_ w: Matrix<Float>, _ x: [Double], bias: [Float]? = nil, rowOffset: Int = 0, rows: Int? = nil) -> [Double] {
        let count = rows ?? w.rows
        return (0..<count).map { o in
            var s = Double(bias?[rowOffset + o] ?? 0)
            for i in 0..<w.cols { s += Double(w[rowOffset + o, i]) * x[i] }
            return s
        }
    }

    static func rmsNorm(_ x: [Double], _ w: [Float]?, eps: Double) -> [Double] {
        let scale = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + eps).squareRoot()
        return x.indices.map { x[$0] * scale * Double(w?[$0] ?? 1) }
    }

    static func rope(_ head: [Double], position: Int, frequencies: [Float]) -> [Double] {
        let half = head.count / 2
        var out = head
        for i in 0..<half {
            let angle = Double(position) * Double(frequencies[i])
            out[i] = head[i] * cos(angle) - head[i + half] * sin(angle)
            out[i + half] = head[i + half] * cos(angle) + head[i] * sin(angle)
        }
        return out
    }

    /// Logits [tokens][vocabulary] for one sequence.
    mutating func logits(_ tokens: [Int32]) -> [[Double]] {
        let eps = Double(model.normEps)
        var xs: [[Double]] = tokens.map { t in (0..<model.hiddenSize).map { Double(model.embedding[Int(t), $0]) * Double(model.embeddingScale) } }
        outputProjectionInputs = []
        for layer in model.layers {
            let a = layer.attention
            let dqk = a.qkHeadDim, dv = a.vHeadDim
            var qs: [[[Double]]] = [], ks: [[[Double]]] = [], vs: [[[Double]]] = []
            for (position, x) in xs.enumerated() {
                let h = Self.rmsNorm(x, layer.attentionNorm, eps: eps)
                let all = Self.linear(a.wqkv, h, bias: a.bqkv)
                var q: [[Double]] = [], k: [[Double]] = [], v: [[Double]] = []
                for head in 0..<a.numHeads {
                    var part = Array(all[(head * dqk)..<((head + 1) * dqk)])
                    if let n = a.qNorm { part = Self.rmsNorm(part, n, eps: eps) }
                    q.append(Self.rope(part, position: position, frequencies: a.ropeInverseFrequencies))
                }
                for g in 0..<a.numKVHeads {
                    let start = a.numHeads * dqk + g * dqk
                    var part = Array(all[start..<(start + dqk)])
                    if let n = a.kNorm { part = Self.rmsNorm(part, n, eps: eps) }
                    k.append(Self.rope(part, position: position, frequencies: a.ropeInverseFrequencies))
                    let vStart = (a.numHeads + a.numKVHeads) * dqk + g * dv
                    v.append(Array(all[vStart..<(vStart + dv)]))
                }
                qs.append(q); ks.append(k); vs.append(v)
            }
            var zs: [[Double]] = []
            for t in xs.indices {
                var z: [Double] = []
                for head in 0..<a.numHeads {
                    let g = a.kvHeadOfQueryHead[head]
                    let visible = (0...t).filter { s in a.slidingWindow.map { t - s < $0 } ?? true }
                    let scores = visible.map { s in zip(qs[t][head], ks[s][g]).reduce(0) { $0 + $1.0 * $1.1 } * Double(a.scale) }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let total = e.reduce(0, +)
                    var out = [Double](repeating: 0, count: dv)
                    for (i, s) in visible.enumerated() { for j in 0..<dv { out[j] += e[i] / total * vs[s][g][j] } }
                    z += out
                }
                zs.append(z)
            }
            outputProjectionInputs.append(zs)
            for t in xs.indices {
                var o = Self.linear(a.wo, zs[t])
                if let n = layer.postAttentionNorm { o = Self.rmsNorm(o, n, eps: eps) }
                for j in o.indices { xs[t][j] += o[j] }
                let h = Self.rmsNorm(xs[t], layer.mlpNorm, eps: eps)
                let f = layer.mlp.width
                let gate = Self.linear(layer.mlp.wGateUp, h, rows: f)
                let up = Self.linear(layer.mlp.wGateUp, h, rowOffset: f, rows: f)
                let act: [Double] = (0..<f).map { j in
                    let g = gate[j]
                    switch layer.mlp.activation {
                    case .silu: return g / (1 + exp(-g)) * up[j]
                    case .geluTanh: return 0.5 * g * (1 + tanh((2 / Double.pi).squareRoot() * (g + 0.044715 * g * g * g))) * up[j]
                    }
                }
                var d = Self.linear(layer.mlp.wDown, act)
                if let n = layer.postMLPNorm { d = Self.rmsNorm(d, n, eps: eps) }
                for j in d.indices { xs[t][j] += d[j] }
            }
        }
        return xs.map { x in Self.linear(model.head, Self.rmsNorm(x, model.finalNorm, eps: eps)) }
    }
}
