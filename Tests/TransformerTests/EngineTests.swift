import LinAlg
import TestSupport
import Transformer
import XCTest

/// The layer engine's contracts: results do not depend on the thread count, a layer-major
/// run (as streaming does it) equals the ordinary one bit for bit, and a layer that no
/// model holds runs on its own.
final class EngineTests: XCTestCase {
    private func tokens(_ count: Int, seed: Int32 = 7) -> [Int32] { (0..<Int32(count)).map { ($0 * 37 + seed) % 300 } }

    private func withThreads<T>(_ n: Int, _ body: () throws -> T) rethrows -> T {
        let before = BLASThreads.count
        BLASThreads.set(n)
        defer { BLASThreads.set(before) }
        return try body()
    }

    func testHiddenStatesAreBitIdenticalOnOneTwoAndThreeThreads() throws {
        let model = TinyModels.wide()
        // 1 × 600 rows cuts the products by columns, 2 × 600 by rows (ProductTiles).
        for (batch, length) in [(1, 600), (2, 600)] {
            let input = tokens(batch * length)
            let one = try withThreads(1) { try model.hiddenStates(tokens: input, batch: batch) }
            for threads in [2, 3] {
                let many = try withThreads(threads) { try model.hiddenStates(tokens: input, batch: batch) }
                XCTAssertEqual(one.elements, many.elements, "batch \(batch) × \(length): \(threads) threads differ from 1")
            }
        }
    }

    func testLayerMajorRunEqualsTheOrdinaryForwardBitForBit() throws {
        let model = TinyModels.wide()
        let groups = [tokens(2 * 300, seed: 1), tokens(2 * 300, seed: 2), tokens(2 * 300, seed: 3)]
        let layerMajor = try model.hiddenStates(calls: groups, sequenceLength: 300, layers: ResidentLayers(model.layers))
        for (group, states) in zip(groups, layerMajor) {
            XCTAssertEqual(try model.hiddenStates(tokens: group, batch: 2).elements, states.elements)
        }
    }

    func testACandidateLayerRunsWithoutBeingInstalled() throws {
        var model = TinyModels.wide()
        var candidate = model.layers[1]
        candidate.attention.wo.elements = candidate.attention.wo.elements.map { $0 * 0.5 }
        candidate.mlp.wDown.elements = candidate.mlp.wDown.elements.map { -$0 }
        let states = try model.attentionHalf(0, states: try model.embeddings(tokens(256)), batch: 2)
        let alone = try candidate.attentionHalf(states: states, batch: 2, index: 1, norm: model.streamNorm)
        let aloneOut = try candidate.mlpHalf(states: alone, index: 1, norm: model.streamNorm)
        XCTAssertNotEqual(try model.attentionHalf(1, states: states, batch: 2).elements, alone.elements, "the candidate must differ")
        model.layers[1] = candidate
        XCTAssertEqual(try model.attentionHalf(1, states: states, batch: 2).elements, alone.elements)
        XCTAssertEqual(try model.mlpHalf(1, states: alone).elements, aloneOut.elements)
    }
}
