import Foundation

/// A folder a command writes (`prune --output DIR`, `export --output DIR`), checked before
/// any work is done and assembled so that a failed or killed run never leaves a
/// half-written folder under the real name.
///
/// The rule: the path's folder must exist and be writable. Without `overwrite` the path
/// must not exist at all. With `overwrite` an existing path is replaced only if it is a
/// folder intraslice wrote (`isHarnessFolder`): a pruned, exported or synthetic model
/// folder holding nothing a user added. Never replaced, whatever it holds: an empty path, a path ending
/// in `.` or `..`, the root, the home folder, the current folder or any folder containing
/// one of them, and a symbolic link.
///
/// The folder is assembled as `.<name>.<pid>.partial` beside the destination and renamed
/// into place when complete. Those a killed run left are removed by the next
/// `OutputFolder` for the same path, once their process is gone.
public struct OutputFolder {
    /// As the user gave it.
    public let path: String
    public let overwrite: Bool
    let folder: String
    let name: String
    let destination: String

    /// The only entries a folder intraslice writes has, beside weight shards named as
    /// HuggingFace names them (`isShardName`): `prune` writes config, weights, tokenizer,
    /// `pruning.json` and `statistics.h5`; `export` config, weights and tokenizer (when the
    /// source has one); `synth` config, weights (sharded with their index) and `synth.json`.
    static let harnessFiles: Set<String> = ["config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json",
                                            "pruning.json", "statistics.h5", "synth.json"]
    /// The `config.json` key every checkpoint `prune` and `export` write has (every layer's shape).
    static let harnessConfigKey = "intraslice_pruned_layers"
    /// The key of the record `synth` writes beside its random-weight checkpoints.
    static let synthRecordKey = "intraslice_synth_version"
    /// How the entries are described in messages.
    static let harnessEntries = "nothing but " + (harnessFiles.sorted() + ["model-NNNNN-of-NNNNN.safetensors"]).sorted().joined(separator: ", ")

    /// Checks `path` and removes the leftovers of dead runs to it.
    public init(_ path: String, overwrite: Bool) throws {
        self.path = path
        self.overwrite = overwrite
        (folder, name, destination) = try Self.check(path, overwrite: overwrite)
        OutputPath.removeLeftovers(in: folder, kind: .folder) { Self.pid(ofPartial: $0, for: name) }
    }

    /// The folders no output may replace or contain: the current one and the home folder
    /// (`$HOME` and the account's).
    static var protectedFolders: [(path: String, what: String)] {
        [(FileManager.default.currentDirectoryPath, "the current folder"), (NSHomeDirectory(), "the home folder")]
            + (ProcessInfo.processInfo.environment["HOME"].map { [($0, "the home folder")] } ?? [])
    }

    static func check(_ path: String, overwrite: Bool) throws -> (folder: String, name: String, destination: String) {
        guard !path.isEmpty else { throw OutputError(path, "an empty path names no folder") }
        let (folder, name, destination) = OutputPath.split(path)
        guard !name.isEmpty else { throw OutputError(path, "is the root folder") }
        guard name != "." && name != ".." else { throw OutputError(path, "ends in \(name), so it names no folder of its own") }
        try OutputPath.checkFolder(of: path, folder)
        let resolved = (resolvedPath(folder) as NSString).appendingPathComponent(name)
        for (protected, what) in protectedFolders {
            let protected = resolvedPath(protected)
            if protected == resolved || protected.hasPrefix(resolved + "/") { throw OutputError(path, "is \(what) or contains it") }
        }
        switch try PathKind.of(destination, shownAs: path) {
        case .absent: break
        case _ where !overwrite:
            throw OutputError(path, "already exists (pass --overwrite to replace a folder intraslice wrote)")
        case .folder:
            guard isHarnessFolder(destination) else {
                throw OutputError(path, "is not a folder intraslice wrote (a config.json with \(harnessConfigKey) or a synth.json with "
                                  + "\(synthRecordKey), and \(harnessEntries)), so it is not replaced")
            }
            guard access(destination, W_OK | X_OK) == 0 else { throw OutputError(path, "is not writable") }
        case let kind:
            throw OutputError(path, "is \(kind.noun), not a folder intraslice wrote, so it is not replaced")
        }
        return (folder, name, destination)
    }

    /// Whether `folder` is one intraslice wrote and nothing else has added to: its entries
    /// are regular files among `harnessFiles` or shards, and its `config.json` has
    /// `harnessConfigKey` or its `synth.json` has `synthRecordKey`. This is the one test
    /// `--overwrite` applies before deleting a folder.
    public static func isHarnessFolder(_ folder: String) -> Bool {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder),
              entries.allSatisfy({ harnessFiles.contains($0) || isShardName($0) }) else { return false }
        let path = { (folder as NSString).appendingPathComponent($0) }
        func object(_ name: String) -> [String: Any]? {
            guard let data = FileManager.default.contents(atPath: path(name)) else { return nil }
            return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        }
        guard entries.allSatisfy({ (try? PathKind.of(path($0), shownAs: folder)) == .regularFile }) else { return false }
        return object("config.json")?[harnessConfigKey] != nil || object("synth.json")?[synthRecordKey] != nil
    }

    /// A weight shard's name as HuggingFace gives it: `model-00001-of-00004.safetensors`.
    static func isShardName(_ name: String) -> Bool {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "model", parts[2] == "of", parts[3].hasSuffix(".safetensors") else { return false }
        let index = parts[1], count = parts[3].dropLast(".safetensors".count)
        return index.count == 5 && count.count == 5 && OutputPath.isDigits(index) && OutputPath.isDigits(count)
    }

    /// `realpath`, or the path itself where it cannot be resolved.
    static func resolvedPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func partialName(for name: String, pid: pid_t) -> String { ".\(name).\(pid).partial" }

    static func pid(ofPartial entry: String, for name: String) -> pid_t? {
        let prefix = ".\(name).", suffix = ".partial"
        guard entry.hasPrefix(prefix), entry.hasSuffix(suffix), entry.count > prefix.count + suffix.count else { return nil }
        return OutputPath.pid(entry.dropFirst(prefix.count).dropLast(suffix.count))
    }

    /// Creates `.<name>.<pid>.partial` beside the destination, lets `write` fill it, then
    /// checks the destination once more (a long run gives it time to change), removes the
    /// folder it replaces and renames the new one into place. On failure the partial
    /// folder is removed and the destination is untouched.
    public func assemble<T>(_ write: (String) throws -> T) throws -> T {
        let fm = FileManager.default
        let partial = (folder as NSString).appendingPathComponent(Self.partialName(for: name, pid: getpid()))
        // Only an earlier process that had this pid can have left one under this name.
        try? fm.removeItem(atPath: partial)
        do { try fm.createDirectory(atPath: partial, withIntermediateDirectories: false) } catch {
            throw OutputError(path, "cannot create \(partial): \(error.localizedDescription)")
        }
        do {
            let result = try write(partial)
            _ = try Self.check(path, overwrite: overwrite)
            if try PathKind.of(destination, shownAs: path) != .absent {
                do { try fm.removeItem(atPath: destination) } catch {
                    throw OutputError(path, "cannot remove the folder it replaces: \(error.localizedDescription)")
                }
            }
            guard rename(partial, destination) == 0 else {
                throw OutputError(path, "cannot move the finished folder into place: \(String(cString: strerror(errno)))")
            }
            return result
        } catch {
            try? fm.removeItem(atPath: partial)
            throw error
        }
    }
}
