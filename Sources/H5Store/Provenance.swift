import Foundation
import LinAlg

/// The harness's version, recorded in every result file.
public enum HarnessVersion {
    public static let current = "0.1.0"
}

/// How a result was obtained: written as attributes of the `/provenance` group of every
/// results file, so a number can always be traced to its code, inputs and machine.
public struct Provenance: Sendable {
    /// Run-specific facts: model file hash, data hash, ratios, calibration, seeds…
    public var fields: [String: H5AttributeValue]

    /// The environment part: version, time, host, command line, threads, library versions.
    public init(command: [String] = CommandLine.arguments, extra: [String: H5AttributeValue] = [:]) {
        let info = ProcessInfo.processInfo
        var fields: [String: H5AttributeValue] = [
            "harness_version": .string(HarnessVersion.current),
            "created_utc": .string(ISO8601DateFormatter().string(from: Date())),
            "host": .string(info.hostName),
            "os": .string(info.operatingSystemVersionString),
            "cpu_cores": .int(Int64(info.activeProcessorCount)),
            "command": .strings(command),
            "blas_threads": .int(Int64(BLASThreads.count)),
            "blas_config": .string(BLASThreads.configuration),
            "blas_core": .string(BLASThreads.coreName),
            "hdf5_version": .string(H5Library.version),
        ]
        if let env = BLASThreads.environmentValue { fields["openblas_num_threads_env"] = .string(env) }
        fields.merge(extra) { _, new in new }
        self.fields = fields
    }

    public func write(to writer: H5Writer, group: String = "/provenance") throws {
        try writer.createGroup(group)
        try writer.setAttributes(fields, on: group)
    }
}
