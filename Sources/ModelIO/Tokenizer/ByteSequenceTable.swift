/// Maps byte strings (token texts as raw bytes) to token ids, looked up straight from a
/// slice of the text being encoded. A `[[UInt8]: Int32]` dictionary would allocate an
/// array per lookup, and the SentencePiece merge loop does millions of them.
struct ByteSequenceTable: Sendable {
    /// All keys back to back; key i is `bytes[starts[i] ..< starts[i + 1]]`.
    private var bytes: [UInt8] = []
    private var starts: [Int] = [0]
    private var values: [Int32] = []
    /// Open addressing, linear probing; -1 marks an empty slot, otherwise an index into `values`.
    private var slots: [Int32]
    private let mask: Int

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    private static func hash(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        // FNV-1a, 64 bit.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    private func slot(for key: UnsafeBufferPointer<UInt8>) -> (slot: Int, found: Bool) {
        var s = Self.hash(key) & mask
        while true {
            let entry = Int(slots[s])
            if entry < 0 { return (s, false) }
            let start = starts[entry], end = starts[entry + 1]
            if end - start == key.count && bytes.withUnsafeBufferPointer({
                key.count == 0 || memcmpEqual($0.baseAddress! + start, key.baseAddress!, key.count)
            }) {
                return (s, true)
            }
            s = (s + 1) & mask
        }
    }

    /// Adds `key → value` unless the key is already there (the first id of a text wins,
    /// as in llama.cpp and HuggingFace when a vocabulary repeats a text).
    mutating func insert(_ key: [UInt8], _ value: Int32) {
        key.withUnsafeBufferPointer { k in
            let (s, found) = slot(for: k)
            guard !found else { return }
            slots[s] = Int32(values.count)
            values.append(value)
            bytes.append(contentsOf: k)
            starts.append(bytes.count)
        }
    }

    func lookup(_ key: UnsafeBufferPointer<UInt8>) -> Int32? {
        let (s, found) = slot(for: key)
        return found ? values[Int(slots[s])] : nil
    }

    func lookup(_ key: [UInt8]) -> Int32? {
        key.withUnsafeBufferPointer { lookup($0) }
    }
}

@inline(__always)
private func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    for i in 0..<n where a[i] != b[i] { return false }
    return true
}
