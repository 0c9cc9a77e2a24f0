import ModelIO
import XCTest

/// Blocks of every supported ggml type built by hand from the layouts in ggml-common.h,
/// with values chosen so that the expected floats are exact (small integers times
/// powers of two). The packing here is written from the layout description, value by
/// value, independently of the decoder's loop structure.
final class GGUFBlockTests: XCTestCase {
    func decode(_ type: GGMLType, _ bytes: [UInt8], count: Int) -> [Float] {
        XCTAssertEqual(bytes.count, count / type.blockSize * type.bytesPerBlock, "block size of \(type)")
        var out = [Float](repeating: .nan, count: count)
        bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBufferPointer { dst in
                GGMLDequantizer.dequantize(type, from: src.baseAddress!, count: count, into: dst.baseAddress!)
            }
        }
        return out
    }

    func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
    let half: [Float: UInt16] = [1: 0x3C00, 0.5: 0x3800, 0.25: 0x3400, 0.125: 0x3000, -1: 0xBC00, 2: 0x4000]

    /// The 4-bit value of element i (0..<32) of a 32-value block: low nibbles hold
    /// elements 0-15, high nibbles 16-31.
    func packNibbles(_ q: [UInt8]) -> [UInt8] {
        (0..<16).map { q[$0] | (q[$0 + 16] << 4) }
    }

    func testFloatTypes() {
        XCTAssertEqual(decode(.f32, le32(Float(-1.5).bitPattern) + le32(Float(3.25).bitPattern), count: 2), [-1.5, 3.25])
        let f16 = decode(.f16, [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00].flatMap(le16), count: 5)
        XCTAssertEqual(f16, [1, -2, 65504, 0x1p-24, .infinity])
        let bf16 = decode(.bf16, [0x3F80, 0xC040, 0x7F7F, 0x0001].flatMap(le16), count: 4)
        XCTAssertEqual(bf16, [1, -3, Float(bitPattern: 0x7F7F_0000), 0x1p-133])
    }

    func testQ4_0() {
        let q: [UInt8] = (0..<32).map { UInt8(($0 * 5 + 3) % 16) }
        let out = decode(.q4_0, le16(half[0.5]!) + packNibbles(q), count: 32)
        XCTAssertEqual(out, q.map { (Float($0) - 8) * 0.5 })
    }

    func testQ4_1() {
        let q: [UInt8] = (0..<32).map { UInt8(($0 * 7 + 1) % 16) }
        let out = decode(.q4_1, le16(half[0.5]!) + le16(half[-1]!) + packNibbles(q), count: 32)
        XCTAssertEqual(out, q.map { Float($0) * 0.5 - 1 })
    }

    /// Q5 blocks: element i's fifth bit is bit i of the little-endian uint32 qh.
    func fiveBit(_ i: Int) -> (q: UInt8, qh: UInt32) {
        let value = UInt8((i * 11 + 5) % 32)
        return (value, UInt32(value >> 4) << UInt32(i))
    }

    func testQ5_0() {
        let parts = (0..<32).map(fiveBit)
        let qh = parts.reduce(0) { $0 | $1.qh }
        let bytes = le16(half[0.25]!) + le32(qh) + packNibbles(parts.map { $0.q & 15 })
        XCTAssertEqual(decode(.q5_0, bytes, count: 32), parts.map { (Float($0.q) - 16) * 0.25 })
        XCTAssertNotEqual(qh, 0)
    }

    func testQ5_1() {
        let parts = (0..<32).map(fiveBit)
        let qh = parts.reduce(0) { $0 | $1.qh }
        let bytes = le16(half[0.5]!) + le16(half[0.125]!) + le32(qh) + packNibbles(parts.map { $0.q & 15 })
        XCTAssertEqual(decode(.q5_1, bytes, count: 32), parts.map { Float($0.q) * 0.5 + 0.125 })
    }

    func testQ8_0() {
        let q: [Int8] = (0..<32).map { Int8($0 * 8 - 128) }
        let bytes = le16(half[0.25]!) + q.map { UInt8(bitPattern: $0) }
        XCTAssertEqual(decode(.q8_0, bytes + bytes, count: 64), (q + q).map { Float($0) * 0.25 })
    }

    // K-quant super-blocks: 8 sub-blocks of 32 with 6-bit scales and mins.
    let kScales: [UInt8] = [1, 2, 3, 4, 63, 33, 17, 5]
    let kMins: [UInt8] = [0, 1, 2, 3, 60, 7, 40, 11]

    /// The 12 scale bytes: bytes 0-3 scales 0-3, bytes 4-7 mins 0-3 (low 6 bits each);
    /// bytes 8-11 the low 4 bits of scale 4+k (low nibble) and min 4+k (high nibble);
    /// the top 2 bits of scale 4+k go to the top of byte k, those of min 4+k to byte 4+k.
    func packKScales() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 12)
        for k in 0..<4 {
            bytes[k] = kScales[k] | ((kScales[k + 4] >> 4) << 6)
            bytes[k + 4] = kMins[k] | ((kMins[k + 4] >> 4) << 6)
            bytes[k + 8] = (kScales[k + 4] & 15) | ((kMins[k + 4] & 15) << 4)
        }
        return bytes
    }

    /// Nibble storage of K-quants: sub-blocks 2p and 2p+1 share bytes 32p..32p+31,
    /// the even one in the low nibbles.
    func packKNibbles(_ q: [UInt8]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 128)
        for i in 0..<256 {
            let s = i / 32, l = i % 32
            bytes[32 * (s / 2) + l] |= (q[i] & 15) << (s % 2 == 0 ? 0 : 4)
        }
        return bytes
    }

    func testQ4_K() {
        let q: [UInt8] = (0..<256).map { UInt8(($0 * 7 + 3) % 16) }
        let bytes = le16(half[0.5]!) + le16(half[0.25]!) + packKScales() + packKNibbles(q)
        let expected = (0..<256).map { i in 0.5 * Float(kScales[i / 32]) * Float(q[i]) - 0.25 * Float(kMins[i / 32]) }
        XCTAssertEqual(decode(.q4_K, bytes, count: 256), expected)
    }

    func testQ5_K() {
        let q: [UInt8] = (0..<256).map { UInt8(($0 * 13 + 5) % 32) }
        // The fifth bit of element l of sub-block s is bit s of qh[l].
        var qh = [UInt8](repeating: 0, count: 32)
        for i in 0..<256 { qh[i % 32] |= (q[i] >> 4) << UInt8(i / 32) }
        let bytes = le16(half[0.5]!) + le16(half[0.125]!) + packKScales() + qh + packKNibbles(q)
        let expected = (0..<256).map { i in 0.5 * Float(kScales[i / 32]) * Float(q[i]) - 0.125 * Float(kMins[i / 32]) }
        XCTAssertEqual(decode(.q5_K, bytes, count: 256), expected)
    }

    func testQ6_K() {
        let q: [UInt8] = (0..<256).map { UInt8(($0 * 29 + 3) % 64) }
        let scales: [Int8] = (0..<16).map { Int8($0 * 9 - 70) }
        // Each half of 128 values: quarter r (32 values) has its low 4 bits in
        // ql[64h + l (+32 for r odd)], low nibble for r < 2, and its top 2 bits at
        // bits 2r, 2r+1 of qh[32h + l]. Sub-block of 16 values i uses scale i / 16.
        var ql = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 64)
        for i in 0..<256 {
            let h = i / 128, r = (i % 128) / 32, l = i % 32
            ql[64 * h + l + (r % 2) * 32] |= (q[i] & 15) << (r < 2 ? 0 : 4)
            qh[32 * h + l] |= (q[i] >> 4) << UInt8(2 * r)
        }
        let bytes = ql + qh + scales.map { UInt8(bitPattern: $0) } + le16(half[0.5]!)
        let expected = (0..<256).map { i in 0.5 * Float(scales[i / 16]) * (Float(q[i]) - 32) }
        XCTAssertEqual(decode(.q6_K, bytes, count: 256), expected)
    }

    func testLargeInputsAreSplitAcrossThreadsWithoutChangingTheResult() {
        // More than one chunk (2^18 values): every block must land at its own place.
        let blocks = 20_000
        var bytes: [UInt8] = []
        for b in 0..<blocks {
            bytes += le16(Float16(Float(b % 100) / 64).bitPattern) + (0..<32).map { UInt8(bitPattern: Int8(truncatingIfNeeded: $0 - b % 7)) }
        }
        let out = decode(.q8_0, bytes, count: blocks * 32)
        for b in stride(from: 0, to: blocks, by: 997) {
            for j in [0, 31] {
                XCTAssertEqual(out[b * 32 + j], Float(j - b % 7) * Float(b % 100) / 64, "block \(b)")
            }
        }
    }

    func testBlockGeometry() {
        let expected: [GGMLType: (Int, Int)] = [.f32: (1, 4), .f16: (1, 2), .bf16: (1, 2), .q4_0: (32, 18), .q4_1: (32, 20),
                                                .q5_0: (32, 22), .q5_1: (32, 24), .q8_0: (32, 34), .q4_K: (256, 144),
                                                .q5_K: (256, 176), .q6_K: (256, 210)]
        for (type, (size, bytes)) in expected {
            XCTAssertTrue(type.isDequantizable)
            XCTAssertEqual(type.blockSize, size, "\(type)")
            XCTAssertEqual(type.bytesPerBlock, bytes, "\(type)")
        }
        XCTAssertEqual(GGMLType(rawValue: 30), .bf16)
        XCTAssertEqual(GGMLType(rawValue: 14), .q6_K)
    }
}
