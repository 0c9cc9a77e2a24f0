import ModelIO
import XCTest

/// Names read from files go into messages only as printable, bounded text.
final class ModelFileErrorTests: XCTestCase {
    func testPrintableEscapesControlFormatAndSeparatorScalars() {
        XCTAssertEqual(ModelFileError.printable("model.layers.0.weight"), "model.layers.0.weight")
        XCTAssertEqual(ModelFileError.printable("a\u{1B}[2Jb\nc\td"), "a\\u{1B}[2Jb\\u{A}c\\u{9}d")
        // A right-to-left override and a line separator would reorder or break the line.
        XCTAssertEqual(ModelFileError.printable("x\u{202E}y\u{2028}z"), "x\\u{202E}y\\u{2028}z")
        // Letters of any script, spaces, U+FFFD (what invalid UTF-8 decodes to) stay.
        XCTAssertEqual(ModelFileError.printable("ünï code ▁Ġ\u{FFFD}"), "ünï code ▁Ġ\u{FFFD}")
    }

    func testPrintableCutsLongNamesAndSaysHowLong() {
        let long = String(repeating: "a", count: 10_000)
        let shown = ModelFileError.printable(long)
        XCTAssertTrue(shown.hasPrefix(String(repeating: "a", count: 120) + "… (10000 characters)"), shown)
        XCTAssertEqual(shown.count, 120 + "… (10000 characters)".count)
        XCTAssertEqual(ModelFileError.printable(String(repeating: "b", count: 120)), String(repeating: "b", count: 120))
    }

    func testDescriptionIsOnePrintableLineAndEscapingTwiceChangesNothing() {
        let error = ModelFileError(path: "/tmp/we\u{7}ird\nname.gguf", message: "tensor \u{1B}[31mred\u{0}: bad")
        XCTAssertEqual(error.description, "/tmp/we\\u{7}ird\\u{A}name.gguf: tensor \\u{1B}[31mred\\u{0}: bad")
        let escaped = ModelFileError.printable("a\u{1}b")
        XCTAssertEqual(ModelFileError(path: "p", message: escaped).description, "p: a\\u{1}b")
    }
}
