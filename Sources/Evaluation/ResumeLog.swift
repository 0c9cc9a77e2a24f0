import Foundation

/// The finished parts of a long evaluation, so that an interrupted run loses nothing.
///
/// Each finished unit (a perplexity window, a batch of zero-shot documents) is appended
/// as one line to a log beside the results file and flushed at once. A rerun with the same
/// `key` (model hash, data hash, settings) takes the logged units instead of recomputing
/// them; a log with another key is discarded. Values are stored as the bit patterns of
/// their Doubles, so resumed numbers are bit-identical. The owner removes the log once
/// the results file is committed.
public final class ResumeLog {
    public let path: String
    public let key: String
    private var units: [String: [Double]] = [:]
    private let handle: FileHandle

    public init(path: String, key: String) throws {
        self.path = path
        self.key = key
        var keep = false
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let lines = text.split(separator: "\n")
            if let first = lines.first, Self.decode(first)?["key"] as? String == key {
                keep = true
                // A line cut short by a crash fails to decode and is skipped.
                for line in lines.dropFirst() {
                    guard let object = Self.decode(line), let unit = object["unit"] as? String,
                          let bits = object["bits"] as? [String] else { continue }
                    let values = bits.compactMap { UInt64($0, radix: 16).map(Double.init(bitPattern:)) }
                    if values.count == bits.count { units[unit] = values }
                }
            }
        }
        if !keep {
            guard FileManager.default.createFile(atPath: path, contents: Data(Self.encode(["key": key]).utf8)) else {
                throw ResumeLogError(description: "\(path): cannot create the resume log")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw ResumeLogError(description: "\(path): cannot open the resume log for writing")
        }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    deinit { try? handle.close() }

    /// Units already finished (by an earlier, interrupted run).
    public var finishedCount: Int { units.count }

    public func values(of unit: String) -> [Double]? { units[unit] }

    public func record(_ unit: String, _ values: [Double]) throws {
        units[unit] = values
        let line = Self.encode(["unit": unit, "bits": values.map { String($0.bitPattern, radix: 16) }])
        try handle.write(contentsOf: Data(line.utf8))
        try handle.synchronize()
    }

    /// A view whose unit names start with `prefix`, for one evaluation of a chained run.
    public func scope(_ prefix: String) -> ResumeScope { ResumeScope(log: self, prefix: prefix) }

    /// Deletes the log: its results are safely in the committed results file.
    public func remove() {
        try? handle.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    private static func encode(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    private static func decode(_ line: Substring) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }
}

/// The units of one evaluation inside a shared resume log.
public struct ResumeScope {
    let log: ResumeLog
    let prefix: String

    public func values(of unit: String) -> [Double]? { log.values(of: prefix + unit) }
    public func record(_ unit: String, _ values: [Double]) throws { try log.record(prefix + unit, values) }

    /// The units of one input inside this scope, named by the SHA-256 of its content: a
    /// text or task file changed between the interrupted run and the rerun (even under the
    /// same name or path) finds none of its old units.
    public func input(sha256: String) -> ResumeScope { ResumeScope(log: log, prefix: prefix + sha256 + " ") }
}

public struct ResumeLogError: Error, CustomStringConvertible {
    public let description: String
}
