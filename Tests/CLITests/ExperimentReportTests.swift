import Foundation
import TestSupport
import XCTest

/// `experiment report --format html` on a real smoke run's records, opened in headless
/// Chromium (Debian's package, which Scripts/test.sh installs): the page it prints shows
/// the tables with their numbers and the plots with their titles, axes and legends.
final class ExperimentReportTests: XCTestCase {
    var executable: String { CLITests.executable }

    func testTheHTMLReportRendersItsTablesAndPlotsInChromium() throws {
        guard let chromium = findExecutable(["/usr/bin/chromium", "/usr/bin/chromium-browser"]),
              let pdftotext = findExecutable(["/usr/bin/pdftotext"]) else {
            throw XCTSkip("chromium or pdftotext missing; Scripts/test.sh installs them")
        }
        let folder = try makeTemporaryFolder("experiment-report")
        defer { try? FileManager.default.removeItem(at: folder) }
        let html = folder.appendingPathComponent("report.html"), pdf = folder.appendingPathComponent("report.pdf")
        let fixture = repositoryRoot.appendingPathComponent("Tests/ReportsTests/Fixtures/experiment-smoke").path
        let report = try runProgram(executable, ["experiment", "report", fixture, "--format", "html", "--output", html.path])
        XCTAssertEqual(report.status, 0, report.stderr)
        let page = try String(contentsOf: html, encoding: .utf8)
        XCTAssertFalse(page.contains("http://") && !page.contains("http://www.w3.org/2000/svg"), "the page must not fetch anything")
        XCTAssertFalse(page.contains("<script"))

        let printed = try runProgram(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                                                "--user-data-dir=\(folder.appendingPathComponent("profile").path)",
                                                "--print-to-pdf=\(pdf.path)", html.absoluteString])
        XCTAssertEqual(printed.status, 0, printed.stderr)
        let text = try runProgram(pdftotext, ["-layout", pdf.path, "-"])
        XCTAssertEqual(text.status, 0, text.stderr)
        let shown = text.stdout
        for expected in ["smollm2-135m: wikitext2 perplexity at L = 512", "smollm2-135m: zero-shot accuracy", "smollm2-135m: speed against the dense model",
                         "74.10", "202372.22", "70.00 ± 10.51", "25.04 %", "1.31×",
                         "against decoder-parameter reduction", "perplexity (log scale)", "decoder-layer parameters removed (%)",
                         "zero-shot average against measured prefill", "speedup over the dense model (×)", "intraslice-uniform", "Provenance"] {
            XCTAssertTrue(shown.contains(expected), "the printed page does not show '\(expected)'")
        }
    }
}
