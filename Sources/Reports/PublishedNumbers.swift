import Experiments
import Foundation
import H5Store
import ModelIO
import Yams

/// Published numbers (`Baselines/published/numbers.yaml`) that experiment tables show as
/// marked reference rows where the experiment's model is the one they were published for.
public struct PublishedNumbers: Decodable, Sendable {
    public struct Source: Decodable, Sendable {
        let id: String
        let citation: String
    }

    public struct Entry: Decodable, Sendable {
        let source: String
        /// The HuggingFace id it was published for.
        let model: String
        let aliases: [String]?
        let method: String
        let ratioKind: String
        /// perplexity, zeroshot_average_5 or zeroshot_average_7.
        let metric: String
        /// For perplexity: the text and window length.
        let data: String?
        let seqlen: Int?
        let calibration: String?
        /// false: quoted second-hand, not checked against the paper.
        let verified: Bool?
        /// [ratio, value] pairs; ratio 0 is the dense model.
        let values: [[Double]]

        enum CodingKeys: String, CodingKey {
            case source, model, aliases, method, ratioKind = "ratio_kind", metric, data, seqlen, calibration, verified, values
        }

        /// The value published at `ratio`.
        func value(at ratio: Double) -> Double? { values.first { abs($0[0] - ratio) < 1e-9 }?[1] }

        /// Whether an experiment's model (registry name or path) is this entry's.
        func matches(_ experimentModel: String) -> Bool {
            let name = ExperimentGrid.folderName(experimentModel).lowercased()
            let known = [model, String(model.split(separator: "/").last ?? "")] + (aliases ?? [])
            return known.contains { $0.lowercased() == name }
        }
    }

    let sources: [Source]
    let numbers: [Entry]

    static let metrics = ["perplexity", "zeroshot_average_5", "zeroshot_average_7"]

    /// Reads and checks `path`: every entry names a listed source and a known metric, a
    /// perplexity entry says its data and length, and values are [ratio, value] pairs.
    public static func load(_ path: String) throws -> PublishedNumbers {
        let numbers: PublishedNumbers
        do {
            let text = String(decoding: try RegularFile.read(path), as: UTF8.self)
            numbers = try YAMLDecoder().decode(PublishedNumbers.self, from: text)
        } catch {
            throw ReportError("\(path): not a published-numbers file (\(describeDecodingFailure(error)))")
        }
        let ids = Set(numbers.sources.map(\.id))
        for (i, entry) in numbers.numbers.enumerated() {
            let problem: String? = if !ids.contains(entry.source) { "names source '\(entry.source)', which sources does not list" }
                else if !metrics.contains(entry.metric) { "metric '\(entry.metric)' is not one of \(metrics.joined(separator: ", "))" }
                else if entry.metric == "perplexity" && (entry.data == nil || entry.seqlen == nil) { "a perplexity entry needs data and seqlen" }
                else if entry.values.contains(where: { $0.count != 2 }) { "values must be [ratio, value] pairs" }
                else { nil }
            if let problem { throw ReportError("\(path): numbers[\(i)]: \(problem)") }
        }
        return numbers
    }

    /// The repository's `Baselines/published/numbers.yaml`, looked for above `executable`
    /// (`.build/…/intraslice` in a checkout); nil when there is none.
    public static func repositoryFile(above executable: String) -> String? {
        var folder = URL(fileURLWithPath: executable).deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("Baselines/published/numbers.yaml")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
            folder.deleteLastPathComponent()
        }
        return nil
    }

    /// The entries for `model` with `metric`.
    func entries(for model: String, metric: String) -> [Entry] { numbers.filter { $0.metric == metric && $0.matches(model) } }

    /// "slicegpt [slicegpt-table1, slicing ratios]": how a reference row is labelled.
    func label(_ entry: Entry, ratioKind: String) -> String {
        var notes = [entry.source]
        if entry.ratioKind != ratioKind { notes.append("\(entry.ratioKind) ratios") }
        if entry.verified == false { notes.append("unverified") }
        return "\(entry.method) [\(notes.joined(separator: ", "))]"
    }

    /// The citation lines of the sources `entries` use.
    func citations(_ entries: [Entry]) -> [String] {
        let used = Set(entries.map(\.source))
        return sources.filter { used.contains($0.id) }.map { "[\($0.id)] \($0.citation)." }
    }
}
