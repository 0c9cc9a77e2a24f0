#if FUZZING
import CFuzzer
#endif
import Foundation
import ModelIO

/// What the fuzz targets share. Each target is an executable whose
/// `LLVMFuzzerTestOneInput` feeds one input to a reader; built by `Scripts/fuzz.sh` with
/// `-sanitize=fuzzer` (and `-D FUZZING`) libFuzzer drives it, built plainly it replays the
/// files named on its command line, which is how a crash is reproduced and debugged.
public enum Fuzzing {
    public typealias Target = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// The target's `main`: libFuzzer's driver with the command line, or the replay.
    public static func main(_ target: Target) -> Never {
        #if FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, target))
        #else
        replay(target)
        try? FileManager.default.removeItem(at: folder)
        exit(0)
        #endif
    }

    /// This process's own folder for the files an input becomes: the readers take paths.
    public static let folder: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("intraslice-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// Whether errors are printed (when replaying; a fuzzing run would drown in them).
    nonisolated(unsafe) static var echo = false

    /// A new empty subfolder, `name`, of `folder`: what the previous input left is gone.
    public static func freshFolder(_ name: String) -> URL {
        let url = folder.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: url)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes `bytes` to `name` in `directory` (default: `folder`) and returns its path.
    @discardableResult
    public static func write<Bytes: Sequence<UInt8>>(_ bytes: Bytes, to name: String, in directory: URL = folder) -> String {
        let url = directory.appendingPathComponent(name)
        try! Data(bytes).write(to: url)
        return url.path
    }

    /// Runs `read` on one input. Bad input must end in a thrown error that names the file
    /// (contains `path`) in one line of printable text; anything else stops the run as a
    /// crash, so that libFuzzer keeps the input.
    public static func expectErrorOrSuccess(naming path: String, _ read: () throws -> Void) {
        do {
            try read()
        } catch {
            let message = "\(error)"
            if echo { print("error: \(message)") }
            guard message.contains(path) else { fatalError("the error does not name \(path): \(message)") }
            guard ModelFileError.printable(message, limit: .max) == message else {
                fatalError("the error is not one printable line: \(ModelFileError.printable(message, limit: .max))")
            }
        }
    }

    /// Each file named on the command line through `target`, its errors printed.
    static func replay(_ target: Target) {
        echo = true
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): cannot read")
                exit(1)
            }
            print("\(path): \(data.count) bytes")
            _ = data.withUnsafeBytes { target($0.bindMemory(to: UInt8.self).baseAddress, $0.count) }
        }
    }
}
