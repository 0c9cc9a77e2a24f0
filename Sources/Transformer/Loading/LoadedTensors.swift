import ModelIO

/// What a loader checks of every tensor it reads, whatever the file format: that its values
/// are finite (a NaN or infinity in a weight makes every later number meaningless), and
/// which tensors were read at all, so that a checkpoint holding tensors no part of the
/// model uses (more layers than the config says, a misspelt or foreign name) is refused
/// instead of silently running a different model.
final class LoadedTensors {
    let source: String
    private(set) var used = Set<String>()

    init(source: String) { self.source = source }

    /// Records `name` as used and checks its values.
    func accept(_ values: [Float], name: String) throws -> [Float] {
        used.insert(name)
        if let bad = firstNonFinite(values) {
            throw ModelFileError(path: source, message: "tensor \(name) holds a non-finite value (\(values[bad]) at element \(bad))")
        }
        return values
    }

    /// Refuses stored tensors that no part of the model read.
    func checkAllUsed(stored: [String]) throws {
        let unused = stored.filter { !used.contains($0) }.sorted()
        guard unused.isEmpty else {
            let shown = unused.prefix(3).joined(separator: ", ") + (unused.count > 3 ? " and \(unused.count - 3) more" : "")
            throw ModelFileError(path: source, message: "\(unused.count) stored tensor(s) are not part of the model the config describes: \(shown)")
        }
    }
}

/// The index of the first NaN or infinity. A float is non-finite exactly when its exponent
/// bits are all ones; the largest exponent field of a block is an integer reduction the
/// compiler vectorises, so a model's weights are scanned at memory speed.
func firstNonFinite(_ values: [Float]) -> Int? {
    let exponentBits: UInt32 = 0x7F80_0000
    return values.withUnsafeBufferPointer { floats in
        floats.withMemoryRebound(to: UInt32.self) { bits in
            let block = 4096
            var start = 0
            while start < bits.count {
                let end = min(bits.count, start + block)
                var largest: UInt32 = 0
                for i in start..<end { largest = max(largest, bits[i] & exponentBits) }
                if largest == exponentBits { return (start..<end).first { !floats[$0].isFinite } }
                start = end
            }
            return nil
        }
    }
}
