import FuzzSupport
import ModelIO

/// A safetensors checkpoint folder, every float tensor read. An input without the
/// separator is `model.safetensors`; with it, the first part is
/// `model.safetensors.index.json` and the others are shards `1.safetensors`, `2.safetensors`, ….
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let folder = Fuzzing.freshFolder("checkpoint")
    let parts = UnsafeRawBufferPointer(start: start, count: count).split(separator: separator, omittingEmptySubsequences: false)
    if parts.count == 1 {
        Fuzzing.write(parts[0], to: SafetensorsCheckpoint.singleFileName, in: folder)
    } else {
        Fuzzing.write(parts[0], to: SafetensorsCheckpoint.indexFileName, in: folder)
        for (number, shard) in parts.dropFirst().enumerated() { Fuzzing.write(shard, to: "\(number + 1).safetensors", in: folder) }
    }
    Fuzzing.expectErrorOrSuccess(naming: folder.path) {
        let checkpoint = try SafetensorsCheckpoint(folder: folder.path)
        for name in checkpoint.tensorNames where checkpoint.tensor(named: name)!.info.dtype.isFloatConvertible {
            _ = try checkpoint.floats(name)
        }
    }
    return 0
}

/// Splits an input into files (a form feed: never in a safetensors header or an index).
let separator: [UInt8] = Array("\u{C}\u{C}FILE\u{C}\u{C}".utf8)

@main enum Main { static func main() { Fuzzing.main(fuzzSafetensors) } }
