import Foundation

// Vector–Jacobian products of the forward pass's element-wise kernels (Kernels.swift):
// given the gradient with respect to a kernel's output, the gradient with respect to its
// input. Only input gradients: the reverse pass never forms weight gradients.

/// For y = x·s·w with s = (Σx²/m + eps)^(-1/2) (`rmsNorm`, m = `divisor` or the width):
/// dx_j = s·w_j·g_j − x_j·s³·(Σ_k w_k·g_k·x_k)/m, added to `dx` when `accumulate`.
func rmsNormBackward(_ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>?, eps: Float, divisor: Int? = nil,
                     gradient g: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
    let m = Float(divisor ?? width)
    for r in 0..<rows {
        let xr = x + r * width, gr = g + r * width, out = dx + r * width
        var sumSquares: Float = 0, dot: Float = 0
        for j in 0..<width {
            let wg = (weight?[j] ?? 1) * gr[j]
            sumSquares += xr[j] * xr[j]
            dot += wg * xr[j]
        }
        let s = 1 / (sumSquares / m + eps).squareRoot()
        let c = s * s * s * dot / m
        for j in 0..<width {
            let value = s * (weight?[j] ?? 1) * gr[j] - xr[j] * c
            out[j] = accumulate ? out[j] + value : value
        }
    }
}

/// For out_j = act(gate_j)·up_j (`gatedActivation`, fused [gate | up] rows of width 2F):
/// d gate_j = g_j·up_j·act′(gate_j) and d up_j = g_j·act(gate_j), as [d gate | d up] rows.
func gatedActivationBackward(_ gateUp: UnsafePointer<Float>, rows: Int, width f: Int, kind: Activation,
                             gradient g: UnsafePointer<Float>, into dGateUp: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let gate = gateUp + r * 2 * f, up = gate + f, gr = g + r * f
        let dGate = dGateUp + r * 2 * f, dUp = dGate + f
        var j = 0
        while j + 8 <= f {
            let a = UnsafeRawPointer(gate + j).loadUnaligned(as: SIMD8<Float>.self)
            let u = UnsafeRawPointer(up + j).loadUnaligned(as: SIMD8<Float>.self)
            let gj = UnsafeRawPointer(gr + j).loadUnaligned(as: SIMD8<Float>.self)
            let (value, slope) = activationAndSlope8(a, kind: kind)
            UnsafeMutableRawPointer(dGate + j).storeBytes(of: gj * u * slope, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(dUp + j).storeBytes(of: gj * value, as: SIMD8<Float>.self)
            j += 8
        }
        while j < f {
            let (value, slope) = activationAndSlope(gate[j], kind: kind)
            dGate[j] = gr[j] * up[j] * slope
            dUp[j] = gr[j] * value
            j += 1
        }
    }
}

/// act(a) and act′(a) for eight lanes, with the forward kernel's `exp8`:
/// silu: a·σ(a) and σ(a)·(1 + a·(1 − σ(a)));
/// gelu-tanh: ½a(1 + t) and ½(1 + t) + ½a(1 − t²)·k(1 + 3c·a²), t = tanh(k(a + c·a³)).
@inline(__always)
private func activationAndSlope8(_ a: SIMD8<Float>, kind: Activation) -> (SIMD8<Float>, SIMD8<Float>) {
    switch kind {
    case .silu:
        let sigma: SIMD8<Float> = 1 / (1 + exp8(-a))
        let slope: SIMD8<Float> = sigma * (1 + a * (1 - sigma))
        return (a * sigma, slope)
    case .geluTanh:
        let k: Float = 0.797_884_56, c: Float = 0.044_715
        let square = a * a
        let inner: SIMD8<Float> = k * (a + c * square * a)
        let t: SIMD8<Float> = 1 - 2 / (exp8(2 * inner) + 1)
        let half: SIMD8<Float> = 0.5 * (1 + t)
        let innerSlope: SIMD8<Float> = k * (1 + 3 * c * square)
        let tanhSlope: SIMD8<Float> = 1 - t * t
        return (a * half, half + 0.5 * a * tanhSlope * innerSlope)
    }
}

private func activationAndSlope(_ a: Float, kind: Activation) -> (Float, Float) {
    switch kind {
    case .silu:
        let sigma = 1 / (1 + Foundation.exp(-a))
        return (a * sigma, sigma * (1 + a * (1 - sigma)))
    case .geluTanh:
        let k: Float = 0.797_884_56, c: Float = 0.044_715
        let t = Foundation.tanh(k * (a + c * a * a * a))
        return (0.5 * a * (1 + t), 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * k * (1 + 3 * c * a * a))
    }
}

/// Σ_t x[t, j]·g[t, j] for every column j, in Double: the gradient of a channel mask
/// (all ones) that multiplies the columns of x, g being the gradient with respect to x.
func columnDotProducts(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, rows: Int, width: Int) -> [Double] {
    var sums = [Double](repeating: 0, count: width)
    sums.withUnsafeMutableBufferPointer { s in
        for r in 0..<rows {
            let xr = x + r * width, gr = g + r * width
            for j in 0..<width { s[j] += Double(xr[j]) * Double(gr[j]) }
        }
    }
    return sums
}

/// row ← scale·exp(row − normaliser), the softmax of a row of logits whose log-sum-exp is
/// `normaliser`, scaled (the loss gradient divides by the tokens it averages over).
func softmaxFromNormaliser(_ row: UnsafeMutablePointer<Float>, count: Int, normaliser: Float, scale: Float) {
    let shift = SIMD8<Float>(repeating: normaliser), factor = SIMD8<Float>(repeating: scale)
    var j = 0
    while j + 8 <= count {
        let v = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(row + j).storeBytes(of: factor * exp8(v - shift), as: SIMD8<Float>.self)
        j += 8
    }
    while j < count {
        row[j] = scale * Foundation.exp(row[j] - normaliser)
        j += 1
    }
}
