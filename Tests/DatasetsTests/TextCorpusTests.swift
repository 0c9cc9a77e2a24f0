import Datasets
import Foundation
import ModelIO
import XCTest

final class TextCorpusTests: XCTestCase {
    func testDocumentMarkupLinesAreRemovedAndEverythingElseKept() {
        let text = "<doc id=\"1\" url=\"x\" title=\"A\">\nTitle A\n\nBody with <doc inside.\r\n</doc>\n <doc not at start\n</doc> trailing\n</doc>"
        let stripped = TextCorpus.stripDocumentMarkup(Array(text.utf8))
        XCTAssertEqual(String(decoding: stripped, as: UTF8.self),
                       "Title A\n\nBody with <doc inside.\r\n <doc not at start\n</doc> trailing\n")
    }

    func testRealWikiCalibrationText() throws {
        guard let wiki = AssetRegistry.asset(named: "wiki", kind: .text), wiki.isPresent else {
            throw XCTSkip("wiki text not cached; run Scripts/fetch-assets.sh")
        }
        let raw = try Data(contentsOf: wiki.url)
        let corpus = try TextCorpus.load("wiki")
        let text = String(decoding: corpus.bytes, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertFalse(lines.contains { $0.hasPrefix("<doc ") || $0 == "</doc>" })
        // 2,349 articles, each with one opening and one closing markup line.
        let rawLines = String(decoding: raw, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(rawLines.filter { $0.hasPrefix("<doc ") }.count, 2349)
        XCTAssertEqual(rawLines.count - lines.count, 2 * 2349)
    }

    func testWikiText2IsReadAsExactBytesWithCarriageReturns() throws {
        guard AssetRegistry.asset(named: "wikitext2", kind: .text)?.isPresent == true else {
            throw XCTSkip("wikitext2 not cached; run Scripts/fetch-assets.sh")
        }
        let corpus = try TextCorpus.load("wikitext2")
        XCTAssertEqual(corpus.bytes.count, 1_290_547)
        XCTAssertEqual(corpus.bytes.filter { $0 == UInt8(ascii: "\r") }.count, 2891)
    }

    func testMissingAndUnknownTextsAreClearErrors() {
        XCTAssertThrowsError(try TextCorpus.load("/no/such/corpus.txt")) { error in
            XCTAssertTrue(String(describing: error).contains("no text named '/no/such/corpus.txt'"), "\(error)")
        }
    }
}
