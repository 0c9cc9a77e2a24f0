import Experiments
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Reports
import TestSupport
import XCTest

/// The experiment tables rendered from a fixed results folder (a real run of
/// `Experiments/smoke.yaml`, its `experiment.json` and `cell.json` files) match golden
/// files, in each format.
final class ExperimentTablesTests: XCTestCase {
    let fixtures = repositoryRoot.appendingPathComponent("Tests/ReportsTests/Fixtures")

    func golden(_ name: String) throws -> String { try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8) }

    func testTablesMatchTheGoldenFiles() throws {
        let results = try ExperimentResults.load(fixtures.appendingPathComponent("experiment-smoke"))
        XCTAssertEqual(results.cells.count, 5)
        XCTAssertEqual(results.unfinished, [])
        let tables = ExperimentTables(results)
        XCTAssertEqual(tables.all().map(\.markdown).joined(separator: "\n"), try golden("experiment-smoke.md"))
        XCTAssertEqual(tables.all(standardErrors: true).map(\.latex).joined(separator: "\n"), try golden("experiment-smoke.tex"))
        XCTAssertEqual(tables.all()[1].csv, try golden("experiment-smoke-zeroshot.csv"))
    }

    /// Seeds are aggregated as mean ± sample standard deviation; a marked (reference) row
    /// is set apart in every format; CSV quotes what needs quoting.
    func testSeedsAggregateAndFormatsEscape() {
        XCTAssertEqual(statistic([1, 2, 3]), "2.00 ± 1.00")
        XCTAssertEqual(statistic([4.5]), "4.50")
        let table = TextTable(title: "a_b 50 %", columns: ["x", "y"], rows: [["1", "say \"hi\", then"], ["2", "3"]], marked: [1])
        XCTAssertTrue(table.latex.contains("\\caption{a\\_b 50 \\%}"))
        XCTAssertTrue(table.latex.contains("\\textit{2} & \\textit{3} \\\\"))
        XCTAssertTrue(table.markdown.contains("| *2* | *3* |"))
        XCTAssertEqual(table.csv, "x,y,reference\n1,\"say \"\"hi\"\", then\",\n2,3,yes\n")
    }
}

extension ExperimentTablesTests {
    /// Every plot of the fixture is well-formed XML (Foundation's parser) with an svg root.
    func testPlotsAreWellFormedSVG() throws {
        let plots = ExperimentTables(try ExperimentResults.load(fixtures.appendingPathComponent("experiment-smoke"))).plots()
        XCTAssertEqual(plots.count, 2, "perplexity and zero-shot against speed; no allocation plot for uniform methods")
        for plot in plots {
            let parser = XMLParser(data: Data(plot.svg.utf8))
            let root = RootElement()
            parser.delegate = root
            XCTAssertTrue(parser.parse(), "\(plot.title): \(parser.parserError.map { "\($0)" } ?? "")")
            XCTAssertEqual(root.name, "svg")
        }
    }
}

private final class RootElement: NSObject, XMLParserDelegate {
    var name: String?
    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        if name == nil { name = elementName }
    }
}
