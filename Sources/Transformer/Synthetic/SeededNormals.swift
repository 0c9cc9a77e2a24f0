import Foundation
import LinAlg

/// Normal random values for one tensor, reproducible from the seed and the tensor's name
/// alone: the tensor is cut into blocks of `blockElements`, each drawn from its own
/// `SeededGenerator`, so any range can be produced on its own, blocks can run in
/// parallel, and the values depend neither on the thread count nor on which other
/// tensors a checkpoint holds (a 2-layer checkpoint's tensors equal the full model's).
struct SeededNormals {
    static let blockElements = 1 << 16

    /// The tensor's generator key.
    let key: UInt64

    init(seed: UInt64, name: String) {
        // FNV-1a of the name, mixed with the seed through one SplitMix step.
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        var generator = SeededGenerator(seed: seed ^ hash)
        key = generator.next()
    }

    /// Fills `output` with elements `range` of the tensor, N(0, std²).
    func fill(_ range: Range<Int>, std: Float, into output: UnsafeMutableBufferPointer<Float>) {
        guard !range.isEmpty else { return }
        let first = range.lowerBound / Self.blockElements, last = (range.upperBound - 1) / Self.blockElements
        DispatchQueue.concurrentPerform(iterations: last - first + 1) { i in
            let block = first + i
            let start = block * Self.blockElements
            let lower = max(start, range.lowerBound), upper = min(start + Self.blockElements, range.upperBound)
            // Block seeds pass through a SplitMix step, so that blocks' streams are unrelated.
            var seeder = SeededGenerator(seed: key ^ (UInt64(block) &* 0xD1B5_4A32_D192_ED03))
            var generator = SeededGenerator(seed: seeder.next())
            var index = start
            while index < upper {
                let (a, b) = Self.pair(&generator)
                if index >= lower { output[index - range.lowerBound] = std * a }
                if index + 1 >= lower && index + 1 < upper { output[index + 1 - range.lowerBound] = std * b }
                index += 2
            }
        }
    }

    /// Two independent standard normal values by Box-Muller from one 64-bit draw (24 bits
    /// per uniform; the radius is at most √(2 ln 2²⁴) ≈ 5.8, so tails are cut there).
    @inline(__always) static func pair(_ generator: inout SeededGenerator) -> (Float, Float) {
        let bits = generator.next()
        let u1 = (Float(bits >> 40) + 1) * 0x1p-24            // (0, 1]
        let u2 = Float((bits >> 8) & 0xFF_FFFF) * 0x1p-24     // [0, 1)
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Float.pi * u2
        return (radius * cos(angle), radius * sin(angle))
    }
}
