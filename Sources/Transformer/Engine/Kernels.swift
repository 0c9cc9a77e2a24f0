import Foundation

// Element-wise kernels of the forward pass. They run over unsafe buffers (no bounds checks
// in the hot loops) and over SIMD8 lanes where the work is per element.

/// e^x for eight lanes: Cody–Waite range reduction and the Cephes single-precision
/// polynomial (about 1 ulp), scaled by 2^n through the exponent bits. Softmax calls this
/// hundreds of millions of times per evaluation, where libm's scalar exp would dominate.
@inline(__always)
func exp8(_ input: SIMD8<Float>) -> SIMD8<Float> {
    // `replacing(with:where:)` compiles to blends; `clamped` ended in out-of-line generic
    // min/max calls that took over a third of the softmax time.
    let x = input.replacing(with: -87, where: input .< -87).replacing(with: 88, where: input .> 88)
    // Adding 1.5·2²³ rounds x·log₂e to the nearest integer n in the FPU (no libm rint per
    // lane) and leaves n in the low mantissa bits, read back without a float→int conversion.
    let shifted = x * 1.442_695_04 + 12_582_912
    let n = shifted - 12_582_912
    var r = x - n * 0.693_359_375
    r = r - n * -2.121_944_4e-4
    var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    p = p * r * r + r + 1
    let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let exponent = (integer &+ 127) &<< 23
    return p * unsafeBitCast(exponent, to: SIMD8<Float>.self)
}

/// The largest of `count` values (−∞ for none). A scalar loop with a branch took a third of
/// the attention kernel's time; max is exact, so lanes give the same value in any order.
@inline(__always)
func largest(_ row: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: -.infinity)
    var i = 0
    while i + 8 <= count {
        let v = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self)
        lanes = lanes.replacing(with: v, where: v .> lanes)
        i += 8
    }
    var maximum = -Float.infinity
    for lane in 0..<8 where lanes[lane] > maximum { maximum = lanes[lane] }
    while i < count {
        if row[i] > maximum { maximum = row[i] }
        i += 1
    }
    return maximum
}

/// In-place softmax of `count` values; returns nothing, the row sums to one.
@inline(__always)
func softmaxInPlace(_ row: UnsafeMutablePointer<Float>, count: Int) {
    let maximum = largest(row, count: count)
    var sum: Float = 0
    var i = 0
    let m = SIMD8<Float>(repeating: maximum)
    var acc = SIMD8<Float>(repeating: 0)
    while i + 8 <= count {
        let e = exp8(UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self) - m)
        UnsafeMutableRawPointer(row + i).storeBytes(of: e, as: SIMD8<Float>.self)
        acc += e
        i += 8
    }
    sum = acc.sum()
    while i < count {
        let e = Foundation.exp(row[i] - maximum)
        row[i] = e
        sum += e
        i += 1
    }
    let scale = 1 / sum
    for j in 0..<count { row[j] *= scale }
}

/// log Σ exp(row): the normaliser of a row of logits, accumulated in Double for long rows;
/// also the row's largest value, which tells whether a given entry is the argmax.
public func logSumExp(_ row: UnsafePointer<Float>, count: Int) -> (value: Double, maximum: Float) {
    let maximum = largest(row, count: count)
    let m = SIMD8<Float>(repeating: maximum)
    var total: Double = 0
    var i = 0
    let vectorEnd = count - count % 8
    while i < vectorEnd {
        // Float partial sums over at most 512 terms, then into Double.
        let end = min(i + 512, vectorEnd)
        var acc = SIMD8<Float>(repeating: 0)
        while i < end {
            acc += exp8(UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self) - m)
            i += 8
        }
        total += Double(acc.sum())
    }
    while i < count {
        total += Foundation.exp(Double(row[i] - maximum))
        i += 1
    }
    return (Double(maximum) + Foundation.log(total), maximum)
}

/// KL(p ‖ q) = Σ p_v (log p_v − log q_v) of the distributions of two rows of logits, in
/// nats: log p_v = reference[v] − logZ_p, log q_v = model[v] − logZ_q. Terms in Float,
/// summed 512 at a time into Double, as `logSumExp`.
public func klDivergence(reference: UnsafePointer<Float>, model: UnsafePointer<Float>, count: Int) -> Double {
    let logZp = logSumExp(reference, count: count).value, logZq = logSumExp(model, count: count).value
    let shift = SIMD8<Float>(repeating: Float(logZq - logZp))
    let normaliser = SIMD8<Float>(repeating: Float(logZp))
    var total: Double = 0
    var i = 0
    let vectorEnd = count - count % 8
    while i < vectorEnd {
        let end = min(i + 512, vectorEnd)
        var acc = SIMD8<Float>(repeating: 0)
        while i < end {
            let p = UnsafeRawPointer(reference + i).loadUnaligned(as: SIMD8<Float>.self)
            let q = UnsafeRawPointer(model + i).loadUnaligned(as: SIMD8<Float>.self)
            // log p − log q = (p_logit − q_logit) + (logZq − logZp).
            acc += exp8(p - normaliser) * (p - q + shift)
            i += 8
        }
        total += Double(acc.sum())
    }
    while i < count {
        let logP = Double(reference[i]) - logZp
        total += Foundation.exp(logP) * (logP - (Double(model[i]) - logZq))
        i += 1
    }
    return max(total, 0)
}

/// RMSNorm of each row: y = x / sqrt(Σx²/divisor + eps) · weight (`weight` nil: no scale;
/// `divisor` nil: the width, i.e. the mean of x²).
func rmsNorm(_ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>?,
             eps: Float, divisor: Int? = nil, into y: UnsafeMutablePointer<Float>) {
    let meanOver = Float(divisor ?? width)
    for r in 0..<rows {
        let src = x + r * width, dst = y + r * width
        var sumSquares: Float = 0
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= width {
            let v = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
            acc += v * v
            i += 8
        }
        sumSquares = acc.sum()
        while i < width { sumSquares += src[i] * src[i]; i += 1 }
        let scale = 1 / (sumSquares / meanOver + eps).squareRoot()
        if let weight {
            for j in 0..<width { dst[j] = src[j] * scale * weight[j] }
        } else {
            for j in 0..<width { dst[j] = src[j] * scale }
        }
    }
}

/// The gated activations of the MLP: out[r, j] = act(gateUp[r, j]) · gateUp[r, F + j],
/// reading the fused [gate | up] rows of width 2F.
func gatedActivation(_ gateUp: UnsafePointer<Float>, rows: Int, width f: Int, kind: Activation,
                     into out: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let gate = gateUp + r * 2 * f, up = gate + f, dst = out + r * f
        switch kind {
        case .silu:
            var j = 0
            while j + 8 <= f {
                let g = UnsafeRawPointer(gate + j).loadUnaligned(as: SIMD8<Float>.self)
                let u = UnsafeRawPointer(up + j).loadUnaligned(as: SIMD8<Float>.self)
                let s = g / (1 + exp8(-g))
                UnsafeMutableRawPointer(dst + j).storeBytes(of: s * u, as: SIMD8<Float>.self)
                j += 8
            }
            while j < f { dst[j] = gate[j] / (1 + Foundation.exp(-gate[j])) * up[j]; j += 1 }
        case .geluTanh:
            // gelu(x) ≈ 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), with tanh(z) = 1 − 2/(e^{2z} + 1).
            var j = 0
            while j + 8 <= f {
                let g = UnsafeRawPointer(gate + j).loadUnaligned(as: SIMD8<Float>.self)
                let u = UnsafeRawPointer(up + j).loadUnaligned(as: SIMD8<Float>.self)
                let z = 0.797_884_56 * (g + 0.044_715 * g * g * g)
                let t = 1 - 2 / (exp8(2 * z) + 1)
                UnsafeMutableRawPointer(dst + j).storeBytes(of: 0.5 * g * (1 + t) * u, as: SIMD8<Float>.self)
                j += 8
            }
            while j < f {
                let g = gate[j]
                let t = Foundation.tanh(0.797_884_56 * (g + 0.044_715 * g * g * g))
                dst[j] = 0.5 * g * (1 + t) * up[j]
                j += 1
            }
        }
    }
}
