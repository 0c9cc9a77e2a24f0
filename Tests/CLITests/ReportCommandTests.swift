import Foundation
import TestSupport
import XCTest

/// `intraslice report` on the committed latency results, and its one-line errors.
final class ReportCommandTests: XCTestCase {
    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProgram(CLITests.executable, arguments)
    }

    func testSpeedupReportPrintsTheTableWritesItAndEndsWithJSON() throws {
        let folder = try makeTemporaryFolder("report-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("table.md").path
        let result = try run(["report", "speedup", repositoryRoot.appendingPathComponent("Results/latency-smollm2").path, "--output", output, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try lastJSONObject(result.stdout)
        XCTAssertEqual(json["command"] as? String, "report speedup")
        let table = try String(contentsOfFile: output, encoding: .utf8)
        XCTAssertEqual(json["table"] as? String, table)
        XCTAssertTrue(result.stdout.hasPrefix(table), "stdout starts with the table written to --output")
        XCTAssertTrue(table.contains("| dense | 106.20 M | 0.00 % | 134.52 M |"), table)
        XCTAssertEqual(json["rows"] as? Int, table.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| model") }.count)
    }

    func testReportOnAFolderWithoutCellsIsAOneLineError() throws {
        let folder = try makeTemporaryFolder("report-cli-empty")
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try run(["report", "ppl-table", folder.path])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "error: \(folder.path): no cell folder holds a ppl.h5\n")
    }
}
