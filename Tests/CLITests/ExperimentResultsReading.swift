import Foundation
import XCTest

/// The measured part of every finished cell of an experiment results folder (timings and
/// latency values aside, which no two runs share): cell id → record.
func measuredCells(_ results: URL) throws -> [String: NSDictionary] {
    var cells: [String: NSDictionary] = [:]
    let root = results.appendingPathComponent("cells")
    for model in try FileManager.default.contentsOfDirectory(atPath: root.path) {
        for cell in try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(model).path) {
            let file = root.appendingPathComponent("\(model)/\(cell)/cell.json")
            guard let data = try? Data(contentsOf: file) else { continue }
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
            let pruning = json["pruning"] as? [String: Any]
            let perplexity = (json["perplexity"] as? [[String: Any]] ?? []).map { $0.filter { $0.key != "seconds" } }
            var zeroshot = json["zeroshot"] as? [String: Any] ?? [:]
            zeroshot["seconds"] = nil
            cells["\(model)/\(cell)"] = ["perplexity": perplexity, "zeroshot": zeroshot, "latency_shapes": (json["latency"] as? [[String: Any]] ?? []).count,
                                         "decoder_reduction": pruning?["decoder_reduction"] ?? "dense",
                                         "parameters_after": pruning?["parameters_after"] ?? "dense"] as NSDictionary
        }
    }
    return cells
}

/// The pruned model folders the work folder `work` holds for `model` (`WORK/pruned/<model>/`,
/// without their `.lock` and `.prune.json` neighbours).
func storedModels(in work: URL, model: String) throws -> [String] {
    let store = work.appendingPathComponent("pruned").appendingPathComponent(model)
    return try FileManager.default.contentsOfDirectory(atPath: store.path).filter { !$0.hasSuffix(".lock") && !$0.hasSuffix(".prune.json") }.sorted()
}
