import Dispatch

/// Turns ggml blocks into Float32, following the block layouts and reference
/// dequantizers of ggml (ggml-common.h, ggml-quants.c). All multi-byte fields are
/// little-endian and unaligned inside the blocks, hence `loadUnaligned` everywhere.
/// The arithmetic is done in the same order as ggml's scalar code so that the results
/// are bit-identical to it (and to gguf-py's numpy port).
public enum GGMLDequantizer {
    /// Dequantizes `count` values (a whole number of blocks) starting at `source`.
    /// Large tensors are cut into block-aligned chunks decoded on several threads: the
    /// work is memory-bound and independent, and a model load is mostly this.
    public static func dequantize(_ type: GGMLType, from source: UnsafeRawPointer, count: Int,
                                  into destination: UnsafeMutablePointer<Float>) {
        precondition(type.isDequantizable && count % type.blockSize == 0)
        let blocks = count / type.blockSize
        let blocksPerChunk = max(1, (1 << 18) / type.blockSize)
        let chunks = (blocks + blocksPerChunk - 1) / blocksPerChunk
        if chunks <= 1 {
            decode(type, source, blocks, destination)
            return
        }
        // Sendable wrappers: each chunk writes its own disjoint range.
        let src = UInt(bitPattern: source), dst = UInt(bitPattern: destination)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let first = chunk * blocksPerChunk
            let n = min(blocksPerChunk, blocks - first)
            decode(type, UnsafeRawPointer(bitPattern: src)! + first * type.bytesPerBlock, n,
                   UnsafeMutablePointer<Float>(bitPattern: dst)! + first * type.blockSize)
        }
    }

    private static func decode(_ type: GGMLType, _ x: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32: UnsafeMutableRawPointer(y).copyMemory(from: x, byteCount: blocks * 4)
        case .f16: for i in 0..<blocks { y[i] = half(x, 2 * i) }
        case .bf16:
            // bf16 is the high half of a float32.
            for i in 0..<blocks { y[i] = Float(bitPattern: UInt32(u16(x, 2 * i)) << 16) }
        case .q4_0: q4_0(x, blocks, y)
        case .q4_1: q4_1(x, blocks, y)
        case .q5_0: q5_0(x, blocks, y)
        case .q5_1: q5_1(x, blocks, y)
        case .q8_0: q8_0(x, blocks, y)
        case .q4_K: q4_K(x, blocks, y)
        case .q5_K: q5_K(x, blocks, y)
        case .q6_K: q6_K(x, blocks, y)
        default: preconditionFailure("\(type) cannot be dequantized")
        }
    }

    @inline(__always) private static func u16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always) private static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: u16(p, offset)))
    }

    @inline(__always) private static func bytes(_ p: UnsafeRawPointer, _ offset: Int) -> UnsafePointer<UInt8> {
        (p + offset).assumingMemoryBound(to: UInt8.self)
    }

    // Q4_0: fp16 d, 16 bytes of nibbles. Low nibbles are values 0..15, high nibbles 16..31.
    private static func q4_0(_ x: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = x + b * 18, out = y + b * 32
            let d = half(block, 0), qs = bytes(block, 2)
            for j in 0..<16 {
                out[j] = Float(Int32(qs[j] & 0x0F) - 8) * d
                out[j + 16] = Float(Int32(qs[j] >> 4) - 8) * d
            }
        }
    }

    // Q4_1: fp16 d and m (the minimum), nibbles: value = q·d + m.
    private static func q4_1(_ x: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = x + b * 20, out = y + b * 32
            let d = half(block, 0), m = half(block, 2), qs = bytes(block, 4)
            for j in 0..<16 {
                out[j] = Float(qs[j] & 0x0F) * d + m
                out[j + 16] = Float(qs[j] >> 4) * d + m
            }
        }
    }

    // Q5_0: fp16 d, a uint32 of fifth bits (bit j for value j), nibbles; value = (q - 16)·d.
    private static func q5_0(_ x: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = x + b * 22, out = y + b * 32
            let d = half(block, 0)
            let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            let qs = bytes(block, 6)
            for j in 0..<16 {
                let h0 = UInt8(truncatingIfNeeded: (qh >> UInt32(j)) << 4) & 0x10
                let h1 = UInt8(truncatingIfNeeded: qh >> UInt32(j + 12)) & 0x10
                out[j] = Float(Int32((qs[j] & 0x0F) | h0) - 16) * d
                out[j + 16] = Float(Int32((qs[j] >> 4) | h1) - 16) * d
            }
        }
    }

    // Q5_1: fp16 d and m, fifth bits, nibbles; value = q·d + m.
    private static func q5_1(_ x: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = x + b * 24, out = y + b * 32
            let d = half(block, 0), m = half(block, 2)
            let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let qs = bytes(block, 8)
            for j in 0..<16 {
                let h0 = UInt8(truncatingIfNeeded: (qh >> UInt32(j)) << 4) & 0x10
                let h1 = UInt8(truncatingIfNeeded: qh >> UInt32(j + 12)) & 0x10
                out[j] = Float((qs[j] & 0x0F) | h0) * d + m
                out[j + 16] = Float((qs[j] >> 4) | h1) * d + m
            }
        }
    }

    // Q8_0: fp16 d, 32 int8.
    private static func q8_0(_ x: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = x + b * 34, out = y + b * 32
            let d = half(block, 0)
            let qs = (block + 2).assumingMemoryBound(to: Int8.self)
            for j in 0..<32 { out[j] = Float(qs[j]) * d }
        }
    }

    /// The 6-bit scale and min of sub-block `j` (0..<8) of a Q4_K/Q5_K super-block,
    /// packed in 12 bytes: sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scales) and
    /// 4-7 (mins); sub-blocks 4-7 in the nibbles of bytes 8-11 plus the top 2 bits of
    /// bytes 0-7 (ggml's get_scale_min_k4).
    @inline(__always) private static func scaleMin(_ j: Int, _ q: UnsafePointer<UInt8>) -> (Float, Float) {
        if j < 4 {
            return (Float(q[j] & 63), Float(q[j + 4] & 63))
        }
        return (Float((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4)),
                Float((q[j + 4] >> 4) | ((q[j] >> 6) << 4)))
    }

    // Q4_K: 256 values in 8 sub-blocks of 32; fp16 d and dmin, 6-bit scales and mins,
    // nibbles (each 32 bytes hold two sub-blocks: low nibbles first). value = d·sc·q − dmin·m.
    private static func q4_K(_ x: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = x + b * 144, out = y + b * 256
            let d = half(block, 0), dmin = half(block, 2)
            let scales = bytes(block, 4), qs = bytes(block, 16)
            for pair in 0..<4 {
                let (sc1, m1) = scaleMin(2 * pair, scales), (sc2, m2) = scaleMin(2 * pair + 1, scales)
                let d1 = d * sc1, min1 = dmin * m1, d2 = d * sc2, min2 = dmin * m2
                let q = qs + 32 * pair, o = out + 64 * pair
                for l in 0..<32 {
                    o[l] = d1 * Float(q[l] & 0x0F) - min1
                    o[l + 32] = d2 * Float(q[l] >> 4) - min2
                }
            }
        }
    }

    // Q5_K: as Q4_K plus 32 bytes of fifth bits; bit 2·pair (low nibbles) and 2·pair+1
    // (high nibbles) of qh[l] belong to value l of each sub-block pair.
    private static func q5_K(_ x: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = x + b * 176, out = y + b * 256
            let d = half(block, 0), dmin = half(block, 2)
            let scales = bytes(block, 4), qh = bytes(block, 16), qs = bytes(block, 48)
            for pair in 0..<4 {
                let (sc1, m1) = scaleMin(2 * pair, scales), (sc2, m2) = scaleMin(2 * pair + 1, scales)
                let d1 = d * sc1, min1 = dmin * m1, d2 = d * sc2, min2 = dmin * m2
                let u1 = UInt8(1) << UInt8(2 * pair), u2 = UInt8(2) << UInt8(2 * pair)
                let q = qs + 32 * pair, o = out + 64 * pair
                for l in 0..<32 {
                    o[l] = d1 * Float((q[l] & 0x0F) + (qh[l] & u1 != 0 ? 16 : 0)) - min1
                    o[l + 32] = d2 * Float((q[l] >> 4) + (qh[l] & u2 != 0 ? 16 : 0)) - min2
                }
            }
        }
    }

    // Q6_K: 256 values in 16 sub-blocks of 16, each with an int8 scale; 4 low bits in
    // ql, 2 high bits in qh; value = d·scale·(q − 32). Each half of 128 values uses 64
    // bytes of ql, 32 of qh and 8 scales, interleaved as in ggml's dequantize_row_q6_K.
    private static func q6_K(_ x: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = x + b * 210, out = y + b * 256
            let d = half(block, 208)
            let scales = (block + 192).assumingMemoryBound(to: Int8.self)
            for half in 0..<2 {
                let ql = bytes(block, 64 * half), qh = bytes(block, 128 + 32 * half)
                let sc = scales + 8 * half, o = out + 128 * half
                for l in 0..<32 {
                    let s = l / 16
                    let q1 = Int32((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32
                    let q2 = Int32((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32
                    let q3 = Int32((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32
                    let q4 = Int32((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32
                    o[l] = d * Float(sc[s]) * Float(q1)
                    o[l + 32] = d * Float(sc[s + 2]) * Float(q2)
                    o[l + 64] = d * Float(sc[s + 4]) * Float(q3)
                    o[l + 96] = d * Float(sc[s + 6]) * Float(q4)
                }
            }
        }
    }
}
