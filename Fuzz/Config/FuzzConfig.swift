import FuzzSupport
import ModelIO
import Transformer

/// A HuggingFace `config.json`, read by the real loader: decoded, checked, and (having no
/// weights beside it) refused at the weights. Every input must end in an error naming
/// the folder's files.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let folder = Fuzzing.freshFolder("hf")
    Fuzzing.write(UnsafeRawBufferPointer(start: start, count: count), to: "config.json", in: folder)
    Fuzzing.expectErrorOrSuccess(naming: folder.path) {
        _ = try HFCheckpointLoader.load(folder: folder.path)
    }
    return 0
}

@main enum Main { static func main() { Fuzzing.main(fuzzConfig) } }
