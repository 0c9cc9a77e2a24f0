import CProcess
import Foundation

/// One `intraslice` subcommand run by the experiment runner as its own process: a crash or
/// an out-of-memory kill ends that step, not the grid, and each step's memory is returned
/// when it ends. Its progress goes to the runner's stderr; its `--json` line is the result.
/// The child is told the runner's pid (`parentEnvironmentKey`) and asks the kernel to kill
/// it when the runner dies, so a runner killed with SIGKILL leaves no step running on that
/// a resumed runner would then race.
public struct CommandStep {
    static let parentEnvironmentKey = "INTRASLICE_DIE_WITH_PARENT"

    let executable: String
    let arguments: [String]
    let threads: Int

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs the command with `--json` and returns its last stdout line.
    func run() throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments + ["--json"]
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = "\(threads)"
        environment[Self.parentEnvironmentKey] = "\(getpid())"
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        do { try process.run() } catch { throw Failure(description: "\(executable): cannot be started (\(error))") }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let command = (["intraslice"] + arguments.prefix { !$0.hasPrefix("--") }).joined(separator: " ")
        guard process.terminationReason == .exit else { throw Failure(description: "\(command) was killed by signal \(process.terminationStatus)") }
        guard process.terminationStatus == 0 else { throw Failure(description: "\(command) failed (exit status \(process.terminationStatus); its error is above)") }
        guard let line = stdout.split(separator: UInt8(ascii: "\n")).last else { throw Failure(description: "\(command) printed no result") }
        return Data(line)
    }

    /// Called first thing by `intraslice`: when a runner started this process, die with
    /// the runner (and at once if it is already gone).
    public static func dieWithParentIfAsked() {
        guard let value = ProcessInfo.processInfo.environment[parentEnvironmentKey], let parent = pid_t(value) else { return }
        if cprocess_die_with_parent(parent) == 1 { exit(137) }
    }
}
