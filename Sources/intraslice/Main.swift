import ArgumentParser
import Experiments
import Foundation
import H5Store
import LinAlg
import ModelIO

struct Intraslice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "intraslice",
        abstract: "Structured pruning of large language models: IntraSlice, SliceGPT and baselines, evaluated on a CPU.",
        version: HarnessVersion.current,
        subcommands: [Prune.self, Plan.self, Export.self, Synth.self, Eval.self, Activations.self, Report.self, Tokenize.self, Generate.self, Bench.self, Experiment.self, Assets.self]
    )
}

/// Runs the command line. Every failure is one line on stderr (and, with `--json`, a JSON
/// object `{"error": …}` as the last stdout line) with a non-zero exit status.
@main
enum Main {
    static func main() {
        CommandStep.dieWithParentIfAsked()
        let missing = CPUFeatures.missing(from: CPUFeatures.current)
        guard missing.isEmpty else {
            let message = "/proc/cpuinfo: this build's kernels need x86-64-v3 (AVX2, FMA); the CPU lacks \(missing.joined(separator: ", "))"
            FileHandle.standardError.write(Data("error: \(message)\n".utf8))
            Foundation.exit(1)
        }
        BLASCore.relaunchWithSupportedCoreIfNeeded()
        do {
            var command = try Intraslice.parseAsRoot()
            try command.run()
        } catch {
            let code = Intraslice.exitCode(for: error)
            if code == .success { Intraslice.exit(withError: error) }  // --help, --version
            let message = oneLine(Intraslice.message(for: error))
            FileHandle.standardError.write(Data("error: \(message)\n".utf8))
            if CommandLine.arguments.contains("--json") { JSONOutput.emit(["error": message]) }
            Foundation.exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
    }

    /// One line of printable text: whatever an error embeds (a corrupt tensor name, a
    /// path with control characters) is escaped, never written to the terminal raw.
    static func oneLine(_ text: String) -> String {
        let joined = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
        return ModelFileError.printable(joined, limit: 2000)
    }
}
