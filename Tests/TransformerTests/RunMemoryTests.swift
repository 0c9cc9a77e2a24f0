import Foundation
@testable import Transformer
import XCTest

/// The memory plan from a config alone: parameter counts against the published size of
/// Llama-2-7B, and how resident and streamed peaks are put together.
final class RunMemoryTests: XCTestCase {
    func llama2() throws -> ModelConfig { try XCTUnwrap(SyntheticShape.named("llama-2-7b")).config }

    /// Llama-2-7B has 6,738,415,616 parameters (HuggingFace's `num_parameters()`): 32 layers
    /// of 202,383,360, an untied 32000 × 4096 embedding and head, and the final norm.
    func testFootprintCountsLlama2SevenBExactly() throws {
        let footprint = ModelFootprint(config: try llama2())
        XCTAssertEqual(footprint.layerParameters, [Int](repeating: 202_383_360, count: 32))
        XCTAssertEqual(footprint.embeddingParameters, 131_072_000)
        XCTAssertEqual(footprint.headParameters, 131_072_000)
        XCTAssertEqual(footprint.decoderParameters + footprint.embeddingParameters + footprint.headParameters + 4096, 6_738_415_616)
    }

    /// A streamed run that keeps the embedding and head adds them to one layer in hand and
    /// its working memory; one that releases them (a prune) peaks at the larger of the
    /// vocabulary matrices alone and the layer work, where the layer's assembly and its
    /// copies beside the working memory are not held at the same time.
    func testStreamedPeakWithAndWithoutTheVocabulary() throws {
        let footprint = ModelFootprint(config: try llama2())
        let layer = footprint.largestLayerBytes, outside = footprint.outsideLayersBytes
        let kept = RunMemory(footprint: footprint, workingBytes: 1 << 30, processBytes: 100)
        XCTAssertEqual(kept.streamedPeak, 100 + outside + 5 * layer / 2 + (1 << 30))
        let released = RunMemory(footprint: footprint, workingBytes: 1 << 30, residentLayerCopies: 2, streamedKeepsVocabulary: false,
                                 processBytes: 100)
        XCTAssertEqual(released.streamedPeak, 100 + 2 * layer + (1 << 30))
        let small = RunMemory(footprint: footprint, workingBytes: 0, residentLayerCopies: 1, streamedKeepsVocabulary: false, processBytes: 0)
        XCTAssertEqual(small.streamedPeak, max(outside, 5 * layer / 2), "assembly or vocabulary, whichever is larger")
        XCTAssertEqual(released.residentPeak, 100 + footprint.residentBytes + 4 * footprint.decoderParameters + (1 << 30))
    }

    /// `choose` takes resident when it fits, else streamed, else refuses with the estimate.
    func testChooseFallsBackToStreamingThenRefuses() throws {
        let memory = RunMemory(footprint: ModelFootprint(config: try llama2()), workingBytes: 1 << 28, processBytes: 0)
        XCTAssertFalse(try memory.choose(budget: MemoryBudget(bytes: memory.residentPeak), model: "m").streamed)
        XCTAssertTrue(try memory.choose(budget: MemoryBudget(bytes: memory.residentPeak - 1), model: "m").streamed)
        XCTAssertThrowsError(try memory.choose(budget: MemoryBudget(bytes: memory.streamedPeak - 1), model: "m")) {
            XCTAssertTrue(String(describing: $0).contains("streamed"), "\($0)")
        }
        XCTAssertThrowsError(try memory.choose(budget: MemoryBudget(bytes: memory.residentPeak - 1), model: "m", canStream: false))
    }

    /// With spillable working memory, a run that fits neither resident nor streamed spills
    /// (streamed, or resident when it cannot stream), its peak lower by exactly the
    /// spillable bytes; below that it is refused with the spilling estimate too.
    func testChooseSpillsBeforeItRefuses() throws {
        let memory = RunMemory(footprint: ModelFootprint(config: try llama2()), workingBytes: 3 << 30, spillableBytes: 2 << 30,
                               residentLayerCopies: 2, streamedKeepsVocabulary: false, processBytes: 0)
        let streamed = try memory.choose(budget: MemoryBudget(bytes: memory.streamedPeak), model: "m")
        XCTAssertTrue(streamed.streamed)
        XCTAssertFalse(streamed.spill)
        let spilled = try memory.choose(budget: MemoryBudget(bytes: memory.streamedPeak - 1), model: "m")
        XCTAssertTrue(spilled.streamed)
        XCTAssertTrue(spilled.spill)
        XCTAssertEqual(spilled.peakBytes, memory.streamedPeak - (2 << 30))
        XCTAssertEqual(spilled.spareBytes, memory.streamedPeak - 1 - spilled.peakBytes)
        let resident = try memory.choose(budget: MemoryBudget(bytes: memory.residentPeak - 1), model: "m", canStream: false)
        XCTAssertEqual([resident.streamed, resident.spill], [false, true])
        XCTAssertEqual(resident.peakBytes, memory.residentPeak - (2 << 30))
        XCTAssertThrowsError(try memory.choose(budget: MemoryBudget(bytes: spilled.peakBytes - 1), model: "m")) {
            XCTAssertTrue(String(describing: $0).contains("spilling calibration activations"), "\($0)")
        }
    }
}
