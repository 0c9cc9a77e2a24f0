import Foundation
import ModelIO
import TestSupport
@testable import Transformer
import XCTest

/// `intraslice plan`: the same arguments as the command it plans, the same memory choice
/// that command makes, a plan from a config alone, and a refusal reported, not failed.
final class PlanCommandTests: XCTestCase {
    var executable: String { CLITests.executable }
    var folder: URL!

    override func setUpWithError() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
        folder = try makeTemporaryFolder()
    }
    override func tearDownWithError() throws { if let folder { try? FileManager.default.removeItem(at: folder) } }

    func json(_ arguments: [String]) throws -> (object: [String: Any], stderr: String) {
        let result = try runProgram(executable, arguments + ["--threads", "2", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return (try lastJSONObject(result.stdout), result.stderr)
    }

    /// The plan of a prune under a budget that forces streaming says streamed, with the
    /// peak the prune itself prints as its estimate, and a positive time by part.
    func testPlanMakesTheChoiceAndEstimateOfTheCommand() throws {
        let model = try StreamingTests.writeModel(in: folder)
        let prune = ["--model", model, "--method", "intraslice", "--ratio", "0.3", "--cal-samples", "4", "--cal-seqlen", "64",
                     "--calibration", "tiny", "--no-checkpoints", "--output", folder.appendingPathComponent("pruned").path,
                     "--memory-budget", "300MiB"]
        let before = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        let plan = try json(["plan", "prune"] + prune).object
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), before, "a plan leaves nothing behind")
        let run = try json(["prune"] + prune)
        XCTAssertEqual(plan["residency"] as? String, "streamed")
        XCTAssertEqual(run.object["residency"] as? String, "streamed")
        let peak = try XCTUnwrap(plan["peak_memory_bytes"] as? Int)
        XCTAssertTrue(run.stderr.contains("estimated peak \(MemoryBudget.format(peak))"), "plan \(peak) B; prune said: \(run.stderr)")
        let parts = try XCTUnwrap(plan["seconds_by_part"] as? [String: Double])
        XCTAssertGreaterThan(parts["forward"] ?? 0, 0)
        XCTAssertGreaterThan(parts["load"] ?? 0, 0)
        XCTAssertEqual(try XCTUnwrap(plan["seconds"] as? Double), parts.values.reduce(0, +), accuracy: 1e-9)
        XCTAssertEqual(plan["checkpoint_measured"] as? Bool, true)
    }

    /// Llama-2-7B from its config.json alone: a 6 GiB budget streams it for a prune, and a
    /// perplexity plan without a tokenizer needs --windows.
    func testPlanFromAConfigAlone() throws {
        let config = folder.appendingPathComponent("config.json")
        let shape = try XCTUnwrap(SyntheticShape.named("llama-2-7b"))
        try JSONEncoder().encode(HFConfigFile(config: shape.config, fields: shape.fields)).write(to: config)
        let plan = try json(["plan", "prune", "--model", config.path, "--method", "intraslice", "--ratio", "0.3", "--cal-samples", "8",
                             "--cal-seqlen", "512", "--output", folder.appendingPathComponent("out").path, "--memory-budget", "6GiB"]).object
        XCTAssertEqual(plan["residency"] as? String, "streamed")
        XCTAssertEqual(plan["checkpoint_measured"] as? Bool, false)
        XCTAssertEqual(plan["checkpoint_bytes"] as? Int, 2 * (6_738_415_616 - 4096))
        XCTAssertLessThan(try XCTUnwrap(plan["peak_memory_bytes"] as? Int), 6 << 30)
        let eval = try runProgram(executable, ["plan", "eval", "ppl", "--model", config.path, "--seqlen", "512"])
        XCTAssertNotEqual(eval.status, 0)
        XCTAssertTrue(eval.stderr.contains("--windows"), eval.stderr)
        let windows = try json(["plan", "eval", "ppl", "--model", config.path, "--seqlen", "512", "--windows", "4"]).object
        XCTAssertEqual(windows["command"] as? String, "eval ppl")
    }

    /// A budget nothing fits in: the plan says refused, with the command's own message.
    func testARefusedRunIsReported() throws {
        let plan = try json(["plan", "eval", "ppl", "--model", "smollm2-135m", "--seqlen", "64", "--windows", "1",
                             "--memory-budget", "20MiB"]).object
        XCTAssertEqual(plan["residency"] as? String, "refused")
        XCTAssertTrue((plan["refusal"] as? String)?.contains("the memory budget is 0.02 GiB") == true, "\(plan)")
    }
}
