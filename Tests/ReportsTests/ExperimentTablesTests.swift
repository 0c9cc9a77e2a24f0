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
    /// The equal-speed table of a real run (two targets, one out of reach at its largest
    /// ratio) matches its golden file; its cells stay out of the equal-ratio tables.
    func testEqualSpeedTablesMatchTheGoldenFile() throws {
        let results = try ExperimentResults.load(fixtures.appendingPathComponent("experiment-equal-speed"))
        XCTAssertEqual(results.cells.count, 7)
        let tables = ExperimentTables(results).all()
        XCTAssertEqual(tables.map(\.markdown).joined(separator: "\n"), try golden("experiment-equal-speed.md"))
        XCTAssertEqual(tables[0].rows.count, 3, "dense, magnitude, intraslice: no equal-speed cell in the perplexity table")
    }

    /// An equal-speed table's note names the CPU its searches were timed on, and when rows
    /// were timed on different CPUs, which row ran on which.
    func testEqualSpeedNoteSaysWhichCPUTimedEachRow() {
        XCTAssertEqual(ExperimentTables.machines([("wanda", ["A"]), ("intraslice", ["A"])]), " on A")
        XCTAssertEqual(ExperimentTables.machines([("magnitude", ["A"]), ("wanda", ["A"]), ("intraslice", ["B"])]),
                       ". Timed on different CPUs, so speedups (and ratios needed) are not strictly comparable across them: A for magnitude, wanda; B for intraslice")
        XCTAssertEqual(ExperimentTables.machines([("wanda", ["A", "B"])]),
                       ". Timed on different CPUs, so speedups (and ratios needed) are not strictly comparable across them: A for wanda; B for wanda")
    }

    /// Published numbers for the experiment's model become marked rows, only for the
    /// perplexity set and length they were published for; another model's do not.
    func testPublishedNumbersForTheSameModelAreMarkedReferenceRows() throws {
        let published = try PublishedNumbers.load(fixtures.appendingPathComponent("published-test.yaml").path)
        let results = try ExperimentResults.load(fixtures.appendingPathComponent("experiment-smoke"))
        let table = try XCTUnwrap(ExperimentTables(results, published: published).all().first)
        let plain = try XCTUnwrap(ExperimentTables(results).all().first)
        XCTAssertEqual(table.rows.count, plain.rows.count + 1)
        XCTAssertEqual(table.rows.last, ["slicegpt [test-source, slicing ratios]", "20.50", "", "41.25", ""])
        XCTAssertEqual(table.marked, [plain.rows.count])
        XCTAssertTrue(table.markdown.contains("| *slicegpt [test-source, slicing ratios]* | *20.50* |  | *41.25* |  |"), table.markdown)
        XCTAssertTrue(table.csv.hasSuffix("\"slicegpt [test-source, slicing ratios]\",20.50,,41.25,,yes\n"), table.csv)
        XCTAssertTrue(table.notes.contains("[test-source] A made-up source for the reference-row test."), "\(table.notes)")
    }

    /// The repository's published numbers parse, and match a Llama-2-7B folder by its name.
    func testTheRepositorysPublishedNumbersMatchTheirModels() throws {
        let published = try PublishedNumbers.load(repositoryRoot.appendingPathComponent("Baselines/published/numbers.yaml").path)
        let llama = published.entries(for: "/models/Llama-2-7b-hf", metric: "perplexity")
        XCTAssertEqual(Set(llama.map(\.source)), ["slicegpt-table1", "slicegpt-128", "intraslice-summary"])
        XCTAssertEqual(llama.first { $0.source == "slicegpt-table1" }?.value(at: 0.25), 7.24)
        XCTAssertEqual(published.entries(for: "llama-2-7b", metric: "zeroshot_average_5").first?.value(at: 0.3), 51.50)
        XCTAssertEqual(published.entries(for: "smollm2-135m", metric: "perplexity").count, 0)
        XCTAssertThrowsError(try PublishedNumbers.load(fixtures.appendingPathComponent("experiment-smoke.md").path)) {
            XCTAssertTrue("\($0)".contains("experiment-smoke.md: not a published-numbers file"), "\($0)")
        }
    }

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
