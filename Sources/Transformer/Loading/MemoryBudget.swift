import Foundation

/// How much memory a run may use. It decides whether a model is held resident or streamed
/// one layer at a time, and a run that would not fit even streamed is refused before it
/// starts, with the estimate: the kernel's OOM killer never gets to decide.
public struct MemoryBudget: Sendable, Equatable, CustomStringConvertible {
    public let bytes: Int

    public init(bytes: Int) {
        precondition(bytes > 0, "a memory budget must be positive")
        self.bytes = bytes
    }

    /// The default: three quarters of physical memory, leaving the rest to the system, the
    /// page cache and whatever else runs.
    public static var standard: MemoryBudget { MemoryBudget(bytes: physicalMemoryBytes * 3 / 4) }

    public static var physicalMemoryBytes: Int { Int(ProcessInfo.processInfo.physicalMemory) }

    /// "6GiB", "6G", "512MiB", "6000000000": binary units (G = GiB), as memory is sold.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("GB", 1 << 30), ("MB", 1 << 20),
                                      ("KB", 1 << 10), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1), ("", 1)]
        guard let (suffix, scale) = units.first(where: { trimmed.hasSuffix($0.0) }),
              let value = Double(trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)),
              value.isFinite, value > 0, value * Double(scale) < Double(Int.max / 2) else { return nil }
        self.init(bytes: Int(value * Double(scale)))
    }

    public var description: String { Self.format(bytes) }

    /// Bytes in GiB with two decimals (what messages and plans print).
    public static func format(_ bytes: Int) -> String { String(format: "%.2f GiB", Double(bytes) / Double(1 << 30)) }
}
