import Foundation
import ModelIO
import TestSupport
@testable import Transformer
import XCTest

/// Inputs that could hang the tool or send it round in a loop.
final class InputSafetyTests: XCTestCase {
    func testAFIFOAsAModelOrAConfigIsRefusedInsteadOfBlocking() throws {
        let folder = try makeTemporaryFolder("fifo-model")
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("model.gguf").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try ModelLoader.load(fifo)) { XCTAssertEqual("\($0)", "\(fifo): not a regular file (a FIFO)") }

        let checkpoint = folder.appendingPathComponent("checkpoint")
        try FileManager.default.createDirectory(at: checkpoint, withIntermediateDirectories: true)
        XCTAssertEqual(mkfifo(checkpoint.appendingPathComponent("config.json").path, 0o600), 0)
        XCTAssertThrowsError(try ModelLoader.load(checkpoint.path)) { XCTAssertTrue("\($0)".hasSuffix("config.json: not a regular file (a FIFO)"), "\($0)") }
    }

    func testATokenizerSourceThatPointsAtItselfIsAnErrorNotARecursion() throws {
        let folder = try makeTemporaryFolder("tokenizer-loop")
        defer { try? FileManager.default.removeItem(at: folder) }
        var config = TinyModels.model("llama").config
        config.tokenizerSource = folder.path
        try JSONEncoder().encode(config).write(to: folder.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ModelLoader.tokenizer(folder.path)) { error in
            XCTAssertTrue("\(error)".contains("intraslice_tokenizer_source links more than 8 folders in a row"), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }
    }
}
