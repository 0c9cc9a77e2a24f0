import Datasets
import Foundation
import ModelIO
import Pruning
import Yams

/// Why a config was refused: always the file, and where it can be told the line.
public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    init(_ file: String, _ problem: String) { description = "\(file): \(problem)" }
}

extension ExperimentConfig {
    /// Reads and checks `path`: YAML that decodes into the schema, no key the schema lacks
    /// (a misspelt key would otherwise be ignored and its default silently used), and
    /// values that name real methods, tasks and models and make a runnable grid.
    public static func load(_ path: String) throws -> ExperimentConfig {
        let data: Data
        do { data = try RegularFile.read(path) } catch { throw ConfigError(path, "cannot be read (\(error))") }
        guard let text = String(data: data, encoding: .utf8) else { throw ConfigError(path, "not UTF-8 text") }
        return try parse(text, file: path)
    }

    /// `text` as the config file `file` (named in every error).
    public static func parse(_ text: String, file: String) throws -> ExperimentConfig {
        let node: Node
        do {
            guard let composed = try Yams.compose(yaml: text) else { throw ConfigError(file, "empty: a config needs at least name, models, methods, ratios and evaluations") }
            node = composed
        } catch let error as ConfigError { throw error } catch { throw ConfigError(file, "not valid YAML: \(error)") }
        guard case .mapping = node else { throw ConfigError(file, "the top level must be a mapping of keys (name, models, methods, …)") }
        let config: ExperimentConfig
        do { config = try YAMLDecoder().decode(ExperimentConfig.self, from: node) } catch {
            throw ConfigError(file, describeDecodingFailure(error))
        }
        // Every key given must come back when the decoded config is written out again.
        let echoed = try Yams.compose(yaml: try YAMLEncoder().encode(config))
        if let unknown = unknownKey(in: node, schema: echoed, path: []) {
            let line = unknown.node.mark.map { "line \($0.line): " } ?? ""
            let place = unknown.path.isEmpty ? "at the top level" : "in \(unknown.path.joined(separator: "."))"
            throw ConfigError(file, "\(line)unknown key '\(unknown.key)' \(place) (README, \"Experiment configs\", lists the keys)")
        }
        if let problem = config.problem() { throw ConfigError(file, problem) }
        return config
    }

    /// The first key of `given` that `schema` (the decoded config written out) lacks at the
    /// same place. Null values are skipped: they decode to an absent optional.
    private static func unknownKey(in given: Node, schema: Node?, path: [String]) -> (key: String, path: [String], node: Node)? {
        switch given {
        case let .mapping(mapping):
            // A scalar shorthand (`- intraslice`) comes back as a mapping; the reverse
            // cannot happen, so only mapping against mapping is compared.
            let known = schema?.mapping
            for (keyNode, value) in mapping {
                let key = keyNode.string ?? "\(keyNode)"
                if value.null != nil { continue }
                guard let known else { continue }
                guard let inner = known[key] else { return (key, path, keyNode) }
                if let found = unknownKey(in: value, schema: inner, path: path + [key]) { return found }
            }
        case let .sequence(items):
            let known = schema?.sequence.map(Array.init) ?? []
            for (i, item) in items.enumerated() {
                if let found = unknownKey(in: item, schema: i < known.count ? known[i] : nil, path: path + ["[\(i)]"]) { return found }
            }
        case .scalar, .alias:
            break
        }
        return nil
    }

    /// What makes the config unrunnable (nil: nothing).
    func problem() -> String? {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }), name.first != "." else {
            return "name '\(name)' must be letters, digits, '.', '_' or '-' (it names folders)"
        }
        if models.isEmpty { return "models is empty" }
        for model in models where AssetRegistry.asset(named: model, kind: .model) == nil && !FileManager.default.fileExists(atPath: model) {
            let known = AssetRegistry.assets(of: .model).map(\.id).joined(separator: ", ")
            return "unknown model '\(model)': neither a registry name (\(known)) nor an existing path"
        }
        if Set(models.map(ExperimentGrid.folderName)).count != models.count { return "models lists a model twice (or two paths with the same name)" }
        if methods.isEmpty { return "methods is empty" }
        for (i, entry) in methods.enumerated() {
            guard PruningMethods.names.contains(entry.method) else {
                return "unknown method '\(entry.method)' in methods[\(i)] (known: \(PruningMethods.names.joined(separator: ", ")))"
            }
            if let allocation = entry.allocation, allocation != .uniform {
                guard PruningMethods.allocatable.contains(entry.method) else {
                    return "methods[\(i)]: allocation \(allocation.rawValue) applies to \(PruningMethods.allocatable.joined(separator: ", "))"
                }
                guard ratioKind == .params else { return "methods[\(i)]: allocation \(allocation.rawValue) spends a parameter budget: set ratio_kind: params" }
            }
            if entry.sliceHead != nil && entry.method != "slicegpt" { return "methods[\(i)]: slice_head applies to slicegpt only" }
            if entry.mlpCompensation != nil && entry.method != "intraslice" { return "methods[\(i)]: mlp_compensation applies to intraslice only" }
        }
        let labels = methods.map(\.label)
        if let twice = labels.first(where: { label in labels.filter { $0 == label }.count > 1 }) { return "methods lists '\(twice)' twice" }
        if ratios.isEmpty { return "ratios is empty" }
        for ratio in ratios where !(ratio > 0 && PruningRatio.allowed.contains(ratio)) {
            return "ratio \(ratio) is outside (0, \(PruningRatio.allowed.upperBound)] (the dense model is always a cell)"
        }
        if Set(ratios).count != ratios.count { return "ratios lists a ratio twice" }
        if calibrations.isEmpty { return "calibration is an empty list" }
        for (i, entry) in calibrations.enumerated() {
            if let problem = entry.problem() { return calibrations.count == 1 ? "calibration: \(problem)" : "calibration[\(i)]: \(problem)" }
        }
        if Set(calibrations.map(\.tag)).count != calibrations.count { return "calibration lists a setting twice" }
        if let problem = evaluations.problem() { return problem }
        let targets = equalSpeed ?? []
        for (i, target) in targets.enumerated() {
            if let problem = target.problem() { return "equal_speed[\(i)]: \(problem)" }
        }
        if Set(targets.map(\.slug)).count != targets.count { return "equal_speed lists a target twice" }
        return nil
    }
}

extension ExperimentConfig.CalibrationEntry {
    func problem() -> String? {
        if samples < 1 { return "samples must be at least 1, got \(samples)" }
        if seqlen < 2 { return "seqlen must be at least 2, got \(seqlen)" }
        if CalibrationSampling(rawValue: sampling) == nil { return "sampling must be random or sequential, got '\(sampling)'" }
        if seeds.isEmpty { return "seeds is empty" }
        if Set(seeds).count != seeds.count { return "seeds lists a seed twice" }
        return nil
    }
}

extension ExperimentConfig.EqualSpeedEntry {
    func problem() -> String? {
        if batch < 1 || length < 1 { return "batch and length must be at least 1" }
        if !(speedup > 1 && speedup.isFinite) { return "speedup must be above 1 (the dense model's is 1), got \(speedup)" }
        if !(maxRatio > 0 && PruningRatio.allowed.contains(maxRatio)) {
            return "max_ratio \(maxRatio) is outside (0, \(PruningRatio.allowed.upperBound)]"
        }
        if !(1...10).contains(steps) { return "steps must be 1 to 10 (each halves the ratio interval), got \(steps)" }
        return nil
    }
}

extension ExperimentConfig.Evaluations {
    func problem() -> String? {
        if (perplexity ?? []).isEmpty && zeroshot == nil && (latency ?? []).isEmpty {
            return "evaluations names none of perplexity, zeroshot, latency"
        }
        for (i, entry) in (perplexity ?? []).enumerated() {
            if entry.seqlen < 2 { return "evaluations.perplexity[\(i)]: seqlen must be at least 2, got \(entry.seqlen)" }
            if let windows = entry.windows, windows < 1 { return "evaluations.perplexity[\(i)]: windows must be at least 1, got \(windows)" }
        }
        if let zeroshot {
            for task in zeroshot.tasks where task != "all" && ZeroShotTask(rawValue: task) == nil {
                return "unknown zero-shot task '\(task)' (known: all, \(ZeroShotTask.allCases.map(\.rawValue).joined(separator: ", ")))"
            }
            if zeroshot.tasks.isEmpty { return "evaluations.zeroshot.tasks is empty" }
            if let limit = zeroshot.limit, limit < 1 { return "evaluations.zeroshot.limit must be at least 1, got \(limit)" }
        }
        for (i, entry) in (latency ?? []).enumerated() where entry.batch < 1 || entry.length < 1 {
            return "evaluations.latency[\(i)]: batch and length must be at least 1"
        }
        return nil
    }
}
