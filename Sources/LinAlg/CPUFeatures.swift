import Foundation

/// What the CPU offers, from `/proc/cpuinfo` (Linux, the platform this harness runs on).
public enum CPUFeatures {
    /// The feature flags of the first processor listed in `cpuinfo` (empty when none is).
    public static func flags(cpuinfo: String) -> Set<String> {
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }

    /// This machine's flags (empty where `/proc/cpuinfo` cannot be read).
    public static var current: Set<String> {
        flags(cpuinfo: (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")
    }

    /// The x86-64-v3 features the Transformer target is compiled for (Package.swift).
    public static let requiredByThisBuild: [String] = {
        #if arch(x86_64)
        return ["avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"]
        #else
        return []
        #endif
    }()

    /// The required features missing from `flags`, in order; empty when the CPU can run
    /// this build. With no flags at all (no `/proc/cpuinfo`) nothing is reported missing.
    public static func missing(from flags: Set<String>) -> [String] {
        flags.isEmpty ? [] : requiredByThisBuild.filter { !flags.contains($0) }
    }
}
