import CZlib
import Datasets
import FuzzSupport

/// A zero-shot task file (gzip JSON lines) loaded as one of the eight tasks. The first
/// byte chooses: its low 3 bits the task, bit 3 whether the rest is the file itself
/// (to reach the gzip layer) or JSON lines to be wrapped in a gzip member here (mutations
/// of compressed bytes would rarely reach the JSON and template code).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTaskFile(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    guard let mode = input.first else { return 0 }
    let task = ZeroShotTask.allCases[Int(mode & 7)]
    let rest = input.dropFirst()
    let path = Fuzzing.write(mode & 8 == 0 ? Array(rest) : storedGzip(Array(rest)), to: "requests.jsonl.gz")
    Fuzzing.expectErrorOrSuccess(naming: path) {
        _ = try task.load(path: path)
    }
    return 0
}

/// `bytes` as a gzip member of stored (uncompressed) deflate blocks (RFC 1951 §3.2.4,
/// RFC 1952): header, blocks of at most 65 535 bytes each with its length and the length's
/// complement, then the CRC-32 and the length, little-endian.
func storedGzip(_ bytes: [UInt8]) -> [UInt8] {
    func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    var out: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]
    var at = 0
    repeat {
        let n = min(65_535, bytes.count - at)
        let length = UInt16(n)
        out.append(at + n == bytes.count ? 1 : 0)
        out += [UInt8(length & 0xff), UInt8(length >> 8), UInt8(~length & 0xff), UInt8(~length >> 8)]
        out += bytes[at..<at + n]
        at += n
    } while at < bytes.count
    let crc = bytes.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
    return out + le32(UInt32(truncatingIfNeeded: crc)) + le32(UInt32(truncatingIfNeeded: bytes.count))
}

@main enum Main { static func main() { Fuzzing.main(fuzzTaskFile) } }
