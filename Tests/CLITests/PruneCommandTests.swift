import Foundation
import H5Store
import LinAlg
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

    /// `--save-covariances` keeps the matrices the method eigendecomposed: SliceGPT's at
    /// its residual sites, E[x xᵀ] over the 256 calibration rows C, where the spectrum it
    /// recorded is that of its damped sum 256·C + λI, λ = 0.01·mean(diag 256·C);
    /// IntraSlice's at wo_input and wdown_input of every layer. Without the flag there are none.
    func testSavedCovariancesAreTheOnesTheMethodUsed() throws {
        let folder = try makeTemporaryFolder("prune-covariances")
        defer { try? FileManager.default.removeItem(at: folder) }
        for (method, flag) in [("slicegpt", true), ("intraslice", true), ("intraslice", false)] {
            let output = folder.appendingPathComponent("\(method)-\(flag)").path
            let run = try runProgram(executable, ["prune", "--method", method, "--ratio", "0.25", "--cal-samples", "2", "--cal-seqlen", "128",
                                                  "--output", output, "--threads", "2"] + (flag ? ["--save-covariances"] : []))
            XCTAssertEqual(run.status, 0, run.stderr)
            let h5 = try H5Reader(path: output + "/statistics.h5")
            if method == "slicegpt" {
                for (layer, site) in [(0, "residual_in"), (7, "residual_mid"), (29, "residual_out")] {
                    let group = String(format: "/statistics/layer_%02d/", layer) + site
                    let c = Matrix(rows: 576, cols: 576, elements: try h5.read("\(group)/covariance", as: Double.self, expectedShape: [576, 576]))
                    let recorded = try h5.read("\(group)/eigenvalues", as: Double.self).values
                    let damping = 0.01 * 256 * (0..<576).reduce(0.0) { $0 + c[$1, $1] } / 576
                    let values = try symmetricEigenvalues(c)
                    for (a, b) in zip(values, recorded) { XCTAssertEqual(256 * a + damping, b, accuracy: 1e-9 * recorded[0], "\(group)") }
                }
            } else {
                for layer in [0, 29] {
                    let group = String(format: "/statistics/layer_%02d/", layer)
                    XCTAssertEqual(h5.exists(group + "wo_input/covariance"), flag)
                    XCTAssertEqual(h5.exists(group + "wdown_input/covariance"), flag)
                    if flag {
                        XCTAssertEqual(try h5.shape(of: group + "wo_input/covariance"), [576, 576])
                        let c = Matrix(rows: 1536, cols: 1536, elements: try h5.read(group + "wdown_input/covariance", as: Double.self, expectedShape: [1536, 1536]))
                        XCTAssertLessThan((c - c.transposed).frobeniusNorm, 1e-12 * c.frobeniusNorm, "symmetric")
                        XCTAssertGreaterThan(try symmetricEigenvalues(c).last!, -1e-6 * c.frobeniusNorm, "positive semi-definite up to float32 block products")
                    }
                }
            }
        }
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
