import Foundation

/// Rotary position embedding in the half-split convention (HuggingFace's and NEOX's):
/// within a head of size d, dimension i rotates with dimension i + d/2 at angle
/// position · inverseFrequency[i]. GGUF `llama` checkpoints are un-permuted at load time
/// so this one convention serves every architecture.
public enum RoPE {
    /// base^(−2i/d) for i in 0..<d/2, adjusted by the checkpoint's `rope_scaling`.
    public static func inverseFrequencies(headDim d: Int, base: Double, scaling: RopeScaling?) -> [Float] {
        var frequencies = (0..<(d / 2)).map { 1 / Foundation.pow(base, Double(2 * $0) / Double(d)) }
        if let scaling {
            switch scaling.kind {
            case "llama3":
                // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, the band
                // between the two thresholds interpolated.
                let factor = scaling.factor ?? 8, low = scaling.lowFreqFactor ?? 1, high = scaling.highFreqFactor ?? 4
                let original = Double(scaling.originalMaxPositionEmbeddings ?? 8192)
                let lowWavelength = original / low, highWavelength = original / high
                frequencies = frequencies.map { f in
                    let wavelength = 2 * Double.pi / f
                    if wavelength < highWavelength { return f }
                    if wavelength > lowWavelength { return f / factor }
                    let smooth = (original / wavelength - low) / (high - low)
                    return (1 - smooth) * f / factor + smooth * f
                }
            case "linear":
                frequencies = frequencies.map { $0 / (scaling.factor ?? 1) }
            case "longrope":
                // Phi-3: each pair's own divisor. The short factors serve sequences up to the
                // original length, the only ones the harness runs (`ModelConfig.contextLength`).
                if let short = scaling.shortFactor, short.count == frequencies.count {
                    frequencies = zip(frequencies, short).map { $0 / $1 }
                }
            default:
                break
            }
        }
        return frequencies.map(Float.init)
    }

    /// What LongRoPE multiplies cos and sin by (1 for every other scaling): the config's
    /// `attention_factor`, else √(1 + ln s / ln L) for the context extension s = `factor` or
    /// max_position_embeddings / L, L the original length (transformers'
    /// `_compute_longrope_parameters`). Rotating both queries and keys, it scales every
    /// query·key product by its square, which is how the harness applies it.
    public static func attentionFactor(scaling: RopeScaling?, maxPositionEmbeddings: Int?) -> Double {
        guard let scaling, scaling.kind == "longrope" else { return 1 }
        if let given = scaling.attentionFactor { return given }
        guard let original = scaling.originalMaxPositionEmbeddings.map(Double.init),
              let ratio = scaling.factor ?? maxPositionEmbeddings.map({ Double($0) / original }),
              ratio > 1 else { return 1 }
        return (1 + Foundation.log(ratio) / Foundation.log(original)).squareRoot()
    }
}

/// cos and sin of position · frequency for the positions of a forward call, computed once
/// and shared by every layer that uses the same frequencies.
struct RoPETable {
    let half: Int
    let rows: Int
    let cosines: [Float]
    let sines: [Float]

    /// The table of positions 0..<`length`, shared by every call that asks for the same
    /// one. Compression runs a layer alone over each calibration group, every call with a
    /// fresh context; rebuilt per call, a 2048-position table (131,072 cos/sin pairs, 2–3 ms)
    /// was 3 % of an IntraSlice prune of SmolLM2, all of it on one core.
    static func fromPositionZero(inverseFrequencies: [Float], length: Int) -> RoPETable {
        RecentRoPETables.shared.table(inverseFrequencies: inverseFrequencies, length: length)
    }

    /// One table row per entry of `positions` (packed sequences restart their positions).
    init(inverseFrequencies: [Float], positions: [Int]) {
        half = inverseFrequencies.count
        rows = positions.count
        var c = [Float](repeating: 0, count: rows * half), s = [Float](repeating: 0, count: rows * half)
        for (r, p) in positions.enumerated() {
            let position = Double(p)
            for i in 0..<half {
                // Angles in Double: positions reach 10⁴–10⁵ and Float angles would drift.
                let angle = position * Double(inverseFrequencies[i])
                c[r * half + i] = Float(Foundation.cos(angle))
                s[r * half + i] = Float(Foundation.sin(angle))
            }
        }
        cosines = c
        sines = s
    }

    /// Rotates `heads` heads of size 2·`headHalf` stored at `x + row·stride + head·2·headHalf`;
    /// row r of `x` is at position table row `firstRow + r`. Head h uses the table's
    /// frequencies `segments[h]·headHalf ..< (segments[h] + 1)·headHalf` (all heads the first
    /// `headHalf` when `segments` is nil): pruned heads of different KV groups keep
    /// different rotary pairs.
    /// `inverse` rotates by the negative angles (the transpose), which is how a gradient
    /// with respect to the rotated values goes back to the unrotated ones.
    func apply(_ x: UnsafeMutablePointer<Float>, rows count: Int, stride: Int, heads: Int, headHalf: Int,
               segments: [Int]? = nil, firstRow: Int = 0, inverse: Bool = false) {
        let sign: Float = inverse ? -1 : 1
        let half = self.half
        cosines.withUnsafeBufferPointer { c in
            sines.withUnsafeBufferPointer { s in
                for r in 0..<count {
                    let cr = c.baseAddress! + (firstRow + r) * half, sr = s.baseAddress! + (firstRow + r) * half
                    for h in 0..<heads {
                        let head = x + r * stride + h * 2 * headHalf
                        let offset = (segments?[h] ?? 0) * headHalf
                        let ch = cr + offset, sh = sr + offset
                        for i in 0..<headHalf {
                            let a = head[i], b = head[i + headHalf]
                            let sine = sign * sh[i]
                            head[i] = a * ch[i] - b * sine
                            head[i + headHalf] = b * ch[i] + a * sine
                        }
                    }
                }
            }
        }
    }
}

/// The few most recently used tables of positions from 0 (a model has one or two frequency
/// sets; calibration uses one length), so that the cache stays a few megabytes at most.
private final class RecentRoPETables: @unchecked Sendable {
    static let shared = RecentRoPETables()
    private let lock = NSLock()
    private var entries: [(frequencies: [Float], table: RoPETable)] = []
    private let capacity = 4

    func table(inverseFrequencies: [Float], length: Int) -> RoPETable {
        if let hit = lock.withLock({ entries.first { $0.frequencies == inverseFrequencies && $0.table.rows == length } }) {
            return hit.table
        }
        let table = RoPETable(inverseFrequencies: inverseFrequencies, positions: Array(0..<length))
        lock.withLock {
            entries.insert((inverseFrequencies, table), at: 0)
            entries.removeLast(max(0, entries.count - capacity))
        }
        return table
    }
}
