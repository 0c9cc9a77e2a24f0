import Foundation
import ModelIO
import TestSupport
import XCTest

/// `prune --stand-in-windows` on SmolLM2-135M: a stand-in measured on fewer calibration
/// windows has exactly the tensor shapes of the full prune (Wanda-sp, SliceGPT), but other
/// weights; magnitude (it measures nothing on windows), IntraSlice (its heads, and so its
/// shapes, are chosen from the windows) and more windows than the calibration has are refused.
final class StandInTests: XCTestCase {
    var executable: String { CLITests.executable }

    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
    }

    func prune(_ method: String, into output: URL, _ extra: [String] = []) throws -> (status: Int32, stderr: String) {
        let run = try runProgram(executable, ["prune", "--method", method, "--ratio", "0.3", "--ratio-kind", "params", "--calibration", "wiki",
                                              "--cal-samples", "4", "--cal-seqlen", "128", "--output", output.path, "--threads", "2",
                                              "--no-checkpoints"] + extra)
        return (run.status, run.stderr)
    }

    /// Every tensor's name and shape.
    func shapes(_ folder: URL) throws -> [String: [Int]] {
        let checkpoint = try SafetensorsCheckpoint(folder: folder.path)
        return Dictionary(uniqueKeysWithValues: try checkpoint.tensorNames.map { ($0, try XCTUnwrap(checkpoint.tensor(named: $0)).info.shape) })
    }

    func testAStandInHasTheFullPrunesShapesButNotItsWeights() throws {
        let folder = try makeTemporaryFolder("stand-in")
        defer { try? FileManager.default.removeItem(at: folder) }
        for method in ["wanda", "slicegpt"] {
            let full = folder.appendingPathComponent("\(method)-full"), standIn = folder.appendingPathComponent("\(method)-stand-in")
            XCTAssertEqual(try prune(method, into: full).status, 0)
            let run = try prune(method, into: standIn, ["--stand-in-windows", "1"])
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertTrue(run.stderr.contains("stand-in: \(method) measures on the first 1 windows only"), run.stderr)
            XCTAssertEqual(try shapes(standIn), try shapes(full), method)
            let fullWeights = try SafetensorsCheckpoint(folder: full.path), standInWeights = try SafetensorsCheckpoint(folder: standIn.path)
            XCTAssertNotEqual(try standInWeights.floats("model.layers.0.mlp.down_proj.weight"), try fullWeights.floats("model.layers.0.mlp.down_proj.weight"),
                              "\(method): one window measured like four")
            let metadata = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: standIn.appendingPathComponent("pruning.json"))) as? [String: Any])
            XCTAssertEqual(metadata["stand_in_windows"] as? Int, 1)
            XCTAssertEqual((metadata["calibration"] as? [String: Any])?["samples"] as? Int, 4, "the calibration recorded is the command's")
            let fullMetadata = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: full.appendingPathComponent("pruning.json"))) as? [String: Any])
            XCTAssertNil(fullMetadata["stand_in_windows"])
        }
    }

    func testStandInsThatCannotBeAreRefused() throws {
        let folder = try makeTemporaryFolder("stand-in-refused")
        defer { try? FileManager.default.removeItem(at: folder) }
        let magnitude = try prune("magnitude", into: folder.appendingPathComponent("m"), ["--stand-in-windows", "1"])
        XCTAssertNotEqual(magnitude.status, 0)
        XCTAssertTrue(magnitude.stderr.contains("--stand-in-windows: magnitude measures nothing on calibration windows"), magnitude.stderr)
        let intraslice = try prune("intraslice", into: folder.appendingPathComponent("i"), ["--stand-in-windows", "1"])
        XCTAssertNotEqual(intraslice.status, 0)
        XCTAssertTrue(intraslice.stderr.contains("--stand-in-windows: intraslice chooses part of its structure"), intraslice.stderr)
        let tooMany = try prune("wanda", into: folder.appendingPathComponent("w"), ["--stand-in-windows", "5"])
        XCTAssertNotEqual(tooMany.status, 0)
        XCTAssertTrue(tooMany.stderr.contains("--stand-in-windows must be between 1 and the 4 calibration windows, got 5"), tooMany.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("w").path))
    }
}
