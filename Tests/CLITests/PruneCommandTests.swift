import Foundation
import ModelIO
import TestSupport
import XCTest

/// `intraslice prune` end to end: the folder it writes is a model every command accepts.
final class PruneCommandTests: XCTestCase {
    var executable: String { CLITests.executable }

    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
    }

    func testPrunedFolderIsAModelForEvalAndReportsItsCounts() throws {
        let folder = try makeTemporaryFolder("prune-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("smollm2-magnitude").path
        let pruned = try runProgram(executable, ["prune", "--method", "magnitude", "--ratio", "0.2", "--ratio-kind", "params",
                                                 "--output", output, "--threads", "2", "--json"])
        XCTAssertEqual(pruned.status, 0, pruned.stderr)
        let json = try lastJSONObject(pruned.stdout)
        let before = try XCTUnwrap(json["parameters_before"] as? [String: Int]), after = try XCTUnwrap(json["parameters_after"] as? [String: Int])
        XCTAssertEqual(before["decoder_layers"], 106_202_880)
        XCTAssertEqual(json["decoder_reduction"] as? Double ?? 0, 0.2, accuracy: 0.01)
        XCTAssertLessThan(after["total"]!, before["total"]!)
        XCTAssertNil(json["calibration"], "magnitude needs no data")

        let ppl = try runProgram(executable, ["eval", "ppl", "--model", output, "--seqlen", "128", "--windows", "2", "--json"])
        XCTAssertEqual(ppl.status, 0, ppl.stderr)
        XCTAssertGreaterThan(try lastJSONObject(ppl.stdout)["ppl"] as? Double ?? 0, 1)

        let again = try runProgram(executable, ["prune", "--method", "magnitude", "--ratio", "0.2", "--output", output, "--json"])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("already exists"), again.stderr)
    }

    func testBadRatioAndMethodAreRefusedBeforeAnyWork() throws {
        let ratio = try runProgram(executable, ["prune", "--method", "intraslice", "--ratio", "1.5", "--output", "/tmp/never", "--json"])
        XCTAssertNotEqual(ratio.status, 0)
        XCTAssertTrue(ratio.stderr.contains("--ratio must be in [0.0, 0.95], got 1.5"), ratio.stderr)
        let method = try runProgram(executable, ["prune", "--method", "obs", "--ratio", "0.2", "--output", "/tmp/never"])
        XCTAssertTrue(method.stderr.contains("--method must be one of magnitude, wanda, slicegpt, intraslice"), method.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/never"))
    }
}
