/// SplitMix64: a small, fast, reproducible generator. Every random choice in the
/// harness (calibration windows, test matrices) takes its seed from the user.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Matrix {
    /// A matrix of independent uniform values in [-1, 1).
    public static func random(rows: Int, cols: Int, using generator: inout SeededGenerator) -> Matrix
    where Scalar.RawSignificand: FixedWidthInteger {
        Matrix(rows: rows, cols: cols,
               elements: (0..<(rows * cols)).map { _ in Scalar.random(in: -1..<1, using: &generator) })
    }
}
