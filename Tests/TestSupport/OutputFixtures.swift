import Foundation
import XCTest

// Things an output path may already be, made inside a test's temporary folder, and a
// record of a path to show it was left exactly as it was.

/// What is at a path, without following a final link: its identity (device and inode),
/// type and permissions, and its contents (a file's bytes, a folder's sorted entries with
/// their own snapshots, a link's target).
public struct PathSnapshot: Equatable, CustomStringConvertible {
    public let device: UInt64
    public let inode: UInt64
    public let mode: UInt32
    public let contents: String

    public init(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        mode = UInt32(info.st_mode)
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            contents = try Data(contentsOf: URL(fileURLWithPath: path)).base64EncodedString()
        case S_IFDIR:
            contents = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                .map { "\($0): \(try PathSnapshot((path as NSString).appendingPathComponent($0)))" }.joined(separator: "; ")
        case S_IFLNK:
            contents = try FileManager.default.destinationOfSymbolicLink(atPath: path)
        default:
            contents = ""
        }
    }

    public var description: String { "inode \(inode) mode \(String(mode, radix: 8)) [\(contents)]" }
}

/// The pid of a process that has exited and been reaped.
public func deadProcessID() throws -> pid_t {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    try process.run()
    process.waitUntilExit()
    return process.processIdentifier
}

public func makeFIFO(_ path: String) throws {
    guard mkfifo(path, 0o644) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
}

/// A character device with /dev/null's numbers, made where the test says (needs root).
public func makeDeviceNode(_ path: String) throws {
    try XCTSkipIf(getuid() != 0, "making a device node needs root")
    var null = stat()
    guard stat("/dev/null", &null) == 0, mknod(path, S_IFCHR | 0o666, null.st_rdev) == 0 else {
        throw POSIXError(POSIXErrorCode(rawValue: errno)!)
    }
}

/// A listening Unix socket at `path`; close the returned descriptor when done.
public func makeSocket(_ path: String) throws -> Int32 {
    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard descriptor >= 0, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw POSIXError(.ENAMETOOLONG) }
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
    return descriptor
}

/// A folder laid out as `prune` writes one (config.json with the harness's key, weights,
/// pruning.json), with `extra` files a user added.
public func makeHarnessFolder(_ path: String, extra: [String] = []) throws {
    let fm = FileManager.default
    try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
    let files = ["config.json": #"{"model_type": "llama", "intraslice_pruned_layers": []}"#,
                 "model.safetensors": "weights", "pruning.json": #"{"method": "magnitude"}"#]
    for (name, text) in files.merging(extra.map { ($0, "the user's") }, uniquingKeysWith: { a, _ in a }) {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path).appendingPathComponent(name))
    }
}
