import Foundation
import XCTest

/// A fresh temporary folder per test, removed afterwards.
public func makeTemporaryFolder(_ name: String = #function) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("intraslice-tests-\(getpid())-\(name.filter { $0.isLetter })-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs a program (with extra environment variables, without the `removed` ones, in `directory` if given) and
/// returns its exit status and output.
@discardableResult
public func runProgram(_ path: String, _ arguments: [String], environment: [String: String] = [:],
                       removing removed: Set<String> = [],
                       in directory: URL? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.currentDirectoryURL = directory
    process.environment = ProcessInfo.processInfo.environment.filter { !removed.contains($0.key) }
        .merging(environment) { _, new in new }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// The first of `candidates` that exists as an executable.
public func findExecutable(_ candidates: [String]) -> String? {
    candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// The repository root, found from this file's location (Tests/TestSupport/…).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The JSON object a `--json` command prints as its last stdout line.
public func lastJSONObject(_ stdout: String) throws -> [String: Any] {
    let line = try XCTUnwrap(stdout.split(separator: "\n").last, "no stdout")
    return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
}

/// Starts a program and kills it with SIGKILL as soon as `ready()` holds (checked every
/// 10 ms, for at most `timeout` seconds), as a crash or an operator would. Returns whether
/// it was still running when killed (false: it finished or the time ran out first).
public func runKilled(_ path: String, _ arguments: [String], timeout: TimeInterval = 300, when ready: () -> Bool) throws -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline && !ready() { usleep(10_000) }
    let running = process.isRunning
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    return running && process.terminationReason == .uncaughtSignal
}
