/// The ggml tensor types whose block layout we know (ids from ggml.h).
/// Blocks hold `blockSize` consecutive values of a row in `bytesPerBlock` bytes.
/// Only some of them can be dequantized (`isDequantizable`); the others are here so
/// that a file using them parses and the error names the type.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, bf16 = 30

    /// Values per K-quant super-block (ggml's QK_K).
    static let superBlock = 256

    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .i8, .i16, .i32, .i64, .f64: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1: return 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K: return GGMLType.superBlock
        }
    }

    public var bytesPerBlock: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8: return 1
        case .i64, .f64: return 8
        case .q4_0: return 2 + 16              // d, 32 nibbles
        case .q4_1: return 2 + 2 + 16          // d, m, 32 nibbles
        case .q5_0: return 2 + 4 + 16          // d, 32 high bits, 32 nibbles
        case .q5_1: return 2 + 2 + 4 + 16      // d, m, high bits, nibbles
        case .q8_0: return 2 + 32              // d, 32 int8
        case .q8_1: return 2 + 2 + 32          // d, s, 32 int8
        case .q2_K: return 16 + 64 + 2 + 2     // scales, 2-bit quants, d, dmin
        case .q3_K: return 32 + 64 + 12 + 2    // high bits, low bits, scales, d
        case .q4_K: return 2 + 2 + 12 + 128    // d, dmin, 6-bit scales/mins, nibbles
        case .q5_K: return 2 + 2 + 12 + 32 + 128
        case .q6_K: return 128 + 64 + 16 + 2   // low nibbles, high 2 bits, int8 scales, d
        case .q8_K: return 4 + 256 + 32        // float d, int8 quants, int16 block sums
        }
    }

    /// Whether `GGUFFile.dequantize` can turn this type into Float32.
    public var isDequantizable: Bool {
        switch self {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K: return true
        default: return false
        }
    }

    /// ggml's name for the type ("q4_K", "bf16", …).
    public var name: String { "\(self)" }

    /// ggml's name for a type id we cannot read, for error messages.
    static func name(ofID id: UInt32) -> String? {
        if let known = GGMLType(rawValue: id) { return known.name }
        let others: [UInt32: String] = [
            4: "q4_2 (removed)", 5: "q4_3 (removed)", 16: "iq2_xxs", 17: "iq2_xs", 18: "iq3_xxs",
            19: "iq1_s", 20: "iq4_nl", 21: "iq3_s", 22: "iq2_s", 23: "iq4_xs", 29: "iq1_m",
            31: "q4_0_4_4 (removed)", 32: "q4_0_4_8 (removed)", 33: "q4_0_8_8 (removed)",
            34: "tq1_0", 35: "tq2_0", 36: "iq4_nl_4_4 (removed)", 37: "iq4_nl_4_8 (removed)",
            38: "iq4_nl_8_8 (removed)", 39: "mxfp4",
        ]
        return others[id]
    }
}
