import Foundation
import H5Store
import Reports
import TestSupport
import XCTest

/// The tables rendered from real results files committed under Results/: the numbers in a
/// table are the ones in the files, and mixed or partial cells are refused.
final class ReportTableTests: XCTestCase {
    func makeGrid(_ cells: [String: [String: String]]) throws -> URL {
        let folder = try makeTemporaryFolder("report-grid")
        for (cell, files) in cells {
            let dir = folder.appendingPathComponent(cell)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for (name, source) in files {
                try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent(source), to: dir.appendingPathComponent(name))
            }
        }
        return folder
    }

    private func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: repositoryRoot.appendingPathComponent(path))) as! [String: Any]
    }

    func testPerplexityTableShowsEachCellsNumbersAndTheDenseCountsOfItsSource() throws {
        let pruned = "Results/smollm2-ppl-table/magnitude-p0.10"
        let folder = try makeGrid(["dense": ["ppl.h5": "Results/dense/smollm2-135m-wikitext2-L2048-Nall.h5"],
                                   "magnitude-p0.10": ["ppl.h5": "\(pruned)/ppl.h5", "pruning.json": "\(pruned)/pruning.json"]])
        defer { try? FileManager.default.removeItem(at: folder) }
        let table = try PerplexityTable(folder: folder.path)
        XCTAssertEqual(table.rows.map(\.cell), ["dense", "magnitude-p0.10"])
        let densePPL = try H5Reader(path: repositoryRoot.appendingPathComponent("Results/dense/smollm2-135m-wikitext2-L2048-Nall.h5").path)
            .attribute("ppl", of: "/perplexity/wikitext2").doubleValue!
        XCTAssertEqual(table.rows[0].perplexity, densePPL)
        let prunedPPL = try json("\(pruned)/ppl.json")["ppl"] as! Double
        XCTAssertEqual(table.rows[1].perplexity, prunedPPL, accuracy: 1e-9 * prunedPPL, "the JSON line rounds its last digit")
        XCTAssertEqual([table.data, "\(table.seqlen)", "\(table.windows)"], ["wikitext2", "2048", "148"])

        let metadata = try json("\(pruned)/pruning.json")
        let before = metadata["parameters_before"] as! [String: Int], after = metadata["parameters_after"] as! [String: Int]
        let lines = table.markdown.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[2].hasPrefix("| dense | \(String(format: "%.2f M", Double(before["decoder_layers"]!) / 1e6)) | 0.00 % | "
                                         + String(format: "%.2f M", Double(before["total"]!) / 1e6)), lines[2])
        XCTAssertTrue(lines[3].hasPrefix("| magnitude 10 % (params) | \(String(format: "%.2f M", Double(after["decoder_layers"]!) / 1e6)) | "
                                         + String(format: "%.2f %%", (metadata["decoder_reduction"] as! Double) * 100)), lines[3])
        XCTAssertTrue(lines[2].hasSuffix(String(format: "| %.2f |", densePPL)), lines[2])
    }

    func testPartialOrMixedPerplexitiesAreRefused() throws {
        // Each beside a pruned cell's pruning.json: a grid has one dense cell.
        let pruning = "Results/smollm2-ppl-table/magnitude-p0.10/pruning.json"
        let folder = try makeGrid(["dense": ["ppl.h5": "Results/dense/smollm2-135m-wikitext2-L2048-Nall.h5"],
                                   "short": ["ppl.h5": "Results/dense/qwen2.5-0.5b-wikitext2-L512-N64.h5", "pruning.json": pruning]])
        defer { try? FileManager.default.removeItem(at: folder) }
        XCTAssertThrowsError(try PerplexityTable(folder: folder.path)) {
            XCTAssertTrue("\($0)".contains("short/ppl.h5: the perplexity covers 64 of"), "\($0)")
        }
        let other = try makeGrid(["dense": ["ppl.h5": "Results/dense/smollm2-135m-wikitext2-L2048-Nall.h5"],
                                  "qwen": ["ppl.h5": "Results/dense/qwen2.5-0.5b-wikitext2-L2048-Nall.h5", "pruning.json": pruning]])
        defer { try? FileManager.default.removeItem(at: other) }
        XCTAssertThrowsError(try PerplexityTable(folder: other.path)) {
            XCTAssertTrue("\($0)".contains("measured on different texts, lengths or window counts"), "\($0)")
        }
        let empty = try makeTemporaryFolder("report-empty")
        defer { try? FileManager.default.removeItem(at: empty) }
        XCTAssertThrowsError(try PerplexityTable(folder: empty.path)) { XCTAssertTrue("\($0)".contains("no cell folder holds a ppl.h5"), "\($0)") }
    }

    func testSpeedupTableDividesEachCellsRatesByTheDenseOnes() throws {
        let latency = "Results/latency-smollm2"
        let folder = try makeGrid(["dense": ["latency.h5": "\(latency)/dense/latency.h5"],
                                   "intraslice-p0.25": ["latency.h5": "\(latency)/intraslice-p0.25/latency.h5",
                                                        "pruning.json": "\(latency)/intraslice-p0.25/pruning.json"]])
        defer { try? FileManager.default.removeItem(at: folder) }
        let lines = try SpeedupTable(folder: folder.path).markdown.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].contains("| prefill 1×512 tok/s | prefill 4×512 tok/s | decode b1 @128 ms/step |"), lines[0])
        func attribute(_ cell: String, _ group: String, _ name: String) throws -> Double {
            try H5Reader(path: repositoryRoot.appendingPathComponent("\(latency)/\(cell)/latency.h5").path).attribute(name, of: "/latency/\(group)").doubleValue!
        }
        let dense = try attribute("dense", "prefill_b1_l512", "tokens_per_second")
        let pruned = try attribute("intraslice-p0.25", "prefill_b1_l512", "tokens_per_second")
        let denseStep = try attribute("dense", "decode_b1_c128", "ms_per_step")
        let prunedStep = try attribute("intraslice-p0.25", "decode_b1_c128", "ms_per_step")
        let denseCells = lines[2].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        let prunedCells = lines[3].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(denseCells[0], "dense")
        XCTAssertEqual(denseCells[4], String(format: "%.0f", dense))
        XCTAssertEqual(denseCells[6], String(format: "%.2f", denseStep))
        XCTAssertEqual(prunedCells[0], "intraslice 25 % (params)")
        XCTAssertEqual(prunedCells[4], String(format: "%.2f×", pruned / dense))
        XCTAssertEqual(prunedCells[6], String(format: "%.2f×", denseStep / prunedStep))
    }
}
