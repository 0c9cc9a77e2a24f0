import Foundation
import Reports
import TestSupport
import XCTest

/// Cells whose files contradict each other make no table: before, a pruned cell without
/// its pruning.json became a second dense row and a results file of another model was
/// accepted.
extension ReportTableTests {
    private var dense: String { "Results/dense/smollm2-135m-wikitext2-L2048-Nall.h5" }
    private var pruned: String { "Results/smollm2-ppl-table/magnitude-p0.10" }

    func testAPrunedCellWithoutItsPruningJSONIsNotASecondDenseRow() throws {
        let folder = try makeGrid(["dense": ["ppl.h5": dense], "magnitude-p0.10": ["ppl.h5": "\(pruned)/ppl.h5"],
                                   "wanda-p0.10": ["ppl.h5": "Results/smollm2-ppl-table/wanda-p0.10/ppl.h5",
                                                   "pruning.json": "Results/smollm2-ppl-table/wanda-p0.10/pruning.json"]])
        defer { try? FileManager.default.removeItem(at: folder) }
        XCTAssertThrowsError(try PerplexityTable(folder: folder.path)) {
            XCTAssertEqual("\($0)", "\(folder.path): 2 cells have no pruning.json (dense, magnitude-p0.10); only the dense model's cell may lack one")
        }
    }

    func testAResultsFileOfAnotherModelIsRefused() throws {
        // The dense model's perplexity filed under a pruned cell.
        let swapped = try makeGrid(["dense": ["ppl.h5": dense], "magnitude-p0.10": ["ppl.h5": dense, "pruning.json": "\(pruned)/pruning.json"]])
        defer { try? FileManager.default.removeItem(at: swapped) }
        XCTAssertThrowsError(try PerplexityTable(folder: swapped.path)) {
            XCTAssertTrue("\($0)".contains("magnitude-p0.10/ppl.h5: measured on the dense source model, but the cell holds a magnitude 10 % (params) pruning.json"), "\($0)")
        }
        // Another model's dense perplexity as the dense cell of SmolLM2's grid.
        let foreign = try makeGrid(["dense": ["ppl.h5": "Results/dense/qwen2.5-0.5b-wikitext2-L2048-Nall.h5"],
                                    "magnitude-p0.10": ["ppl.h5": "\(pruned)/ppl.h5", "pruning.json": "\(pruned)/pruning.json"]])
        defer { try? FileManager.default.removeItem(at: foreign) }
        XCTAssertThrowsError(try PerplexityTable(folder: foreign.path)) {
            XCTAssertTrue("\($0)".contains("dense/ppl.h5: the dense cell's results were measured on model "), "\($0)")
        }
    }
}
