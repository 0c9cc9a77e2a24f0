import LinAlg
import TestSupport
import Transformer
import XCTest

/// Packed documents (trunk + branches) must give each branch exactly the hidden states of
/// its own full sequence run alone: the mask hides other branches and other documents.
final class PackedForwardTests: XCTestCase {
    let documents = [
        PackedSequences.Document(trunk: [3, 17, 42, 0, 8], branches: [[8, 29], [49, 11, 5, 6], [], [2]]),
        PackedSequences.Document(trunk: [7], branches: [[1, 2, 3, 4, 5, 6, 7]]),
        PackedSequences.Document(trunk: [9, 9, 30, 31, 32, 33, 34, 35], branches: []),
    ]

    func testEveryBranchEqualsItsSequenceRunAlone() throws {
        // gemma3 has sliding windows of 3 on two layers: branch rows near the trunk's end
        // must see only the trunk positions inside the window.
        for variant in ["llama", "qwen2", "gemma3", "pruned"] {
            let model = TinyModels.model(variant)
            let packed = PackedSequences(documents)
            XCTAssertEqual(packed.rowCount, 5 + 2 + 4 + 1 + 1 + 7 + 8)
            let hidden = try model.hiddenStates(packed: packed)
            for (d, document) in documents.enumerated() {
                let sequences = document.branches.isEmpty ? [document.trunk] : document.branches.map { document.trunk + $0 }
                for (b, sequence) in sequences.enumerated() {
                    let alone = try model.hiddenStates(tokens: sequence)
                    var worst: Float = 0
                    for t in sequence.indices {
                        let row = packed.row(document: d, branch: b, tokenIndex: t)
                        XCTAssertEqual(packed.positions[row], t)
                        for j in 0..<model.hiddenSize { worst = max(worst, abs(hidden[row, j] - alone[t, j])) }
                    }
                    XCTAssertLessThan(worst, 1e-5, "\(variant) document \(d) branch \(b)")
                }
            }
        }
    }
}
