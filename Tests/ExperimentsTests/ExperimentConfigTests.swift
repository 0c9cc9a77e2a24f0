@testable import Experiments
import TestSupport
import Pruning
import XCTest

/// `Experiments/*.yaml`: the schema with its defaults and shorthand, the refusals (each
/// naming the file and the offending key or value), and the grid a config expands to.
final class ExperimentConfigTests: XCTestCase {
    let minimal = """
        name: study
        models: [smollm2-135m]
        methods: [magnitude, {method: intraslice, allocation: global_pca}]
        ratios: [0.2, 0.3]
        evaluations:
          perplexity: [{seqlen: 512, windows: 4}]
        """

    func testDefaultsAndShorthandAreFilledIn() throws {
        let config = try ExperimentConfig.parse(minimal, file: "study.yaml")
        XCTAssertEqual(config.ratioKind, .params)
        XCTAssertEqual(config.methods, [.init(method: "magnitude"), .init(method: "intraslice", allocation: .globalPCA)])
        XCTAssertEqual(config.calibrations, [ExperimentConfig.CalibrationEntry()])
        XCTAssertEqual(config.calibrations[0].samples, 128)
        XCTAssertEqual(config.evaluations.perplexity?.first?.data, "wikitext2")
        XCTAssertEqual(config.evaluations.perplexity?.first?.seqlen, 512)
        XCTAssertNil(config.evaluations.zeroshot)
    }

    func testAnUnknownKeyIsRefusedWithItsPlaceAndLine() {
        let misspelt = minimal + "\n  zeroshot: {tasks: [piqa], limt: 10}"
        XCTAssertThrowsError(try ExperimentConfig.parse(misspelt, file: "study.yaml")) {
            XCTAssertEqual("\($0)", "study.yaml: line 7: unknown key 'limt' in evaluations.zeroshot (README, \"Experiment configs\", lists the keys)")
        }
        XCTAssertThrowsError(try ExperimentConfig.parse(minimal + "\nseed: 3", file: "study.yaml")) {
            XCTAssertTrue("\($0)".hasPrefix("study.yaml: line 7: unknown key 'seed' at the top level"), "\($0)")
        }
        let inMethod = minimal.replacingOccurrences(of: "allocation: global_pca", with: "alocation: global_pca")
        XCTAssertThrowsError(try ExperimentConfig.parse(inMethod, file: "study.yaml")) {
            XCTAssertTrue("\($0)".contains("unknown key 'alocation' in methods.[1]"), "\($0)")
        }
    }

    func testBadValuesAreRefusedNamingThem() {
        let cases: [(String, String, String)] = [
            ("methods: [magnitude,", "methods: [magnitud,", "unknown method 'magnitud' in methods[0] (known: magnitude, wanda, slicegpt, intraslice)"),
            ("ratios: [0.2, 0.3]", "ratios: [0.2, 0.99]", "ratio 0.99 is outside (0, 0.95]"),
            ("models: [smollm2-135m]", "models: [no-such-model]", "unknown model 'no-such-model'"),
            ("{method: intraslice, allocation: global_pca}", "{method: slicegpt, allocation: global}", "methods[1]: allocation global applies to"),
            ("{method: intraslice, allocation: global_pca}", "{method: intraslice, allocation: best}", "'methods[1].allocation'"),
            ("windows: 4", "windows: four", "'evaluations.perplexity[0].windows' is not"),
            ("name: study", "name: ../up", "name '../up' must be"),
        ]
        for (from, to, message) in cases {
            let text = minimal.replacingOccurrences(of: from, with: to)
            XCTAssertNotEqual(text, minimal, from)
            XCTAssertThrowsError(try ExperimentConfig.parse(text, file: "study.yaml"), to) {
                XCTAssertTrue("\($0)".hasPrefix("study.yaml: ") && "\($0)".contains(message), "\($0)")
            }
        }
        XCTAssertThrowsError(try ExperimentConfig.parse(minimal + "\n  zeroshot: {tasks: [piqa, mmlu]}", file: "s.yaml")) {
            XCTAssertTrue("\($0)".contains("unknown zero-shot task 'mmlu'"), "\($0)")
        }
        XCTAssertThrowsError(try ExperimentConfig.parse("models: [", file: "s.yaml")) { XCTAssertTrue("\($0)".hasPrefix("s.yaml: not valid YAML"), "\($0)") }
        XCTAssertThrowsError(try ExperimentConfig.parse("", file: "s.yaml")) { XCTAssertTrue("\($0)".hasPrefix("s.yaml: empty"), "\($0)") }
    }

    func testTheGridHasADenseCellPerModelAndShardsPartitionIt() throws {
        var config = try ExperimentConfig.parse(minimal, file: "study.yaml")
        config.calibrations[0].seeds = [0, 1]
        let grid = ExperimentGrid(config)
        XCTAssertEqual(grid.cells.count, 1 + 2 * 2 * 2)
        XCTAssertEqual(grid.cells.first?.id, "smollm2-135m/dense")
        XCTAssertEqual(grid.cells.last?.id, "smollm2-135m/intraslice-global_pca-p0.30-s1")
        XCTAssertEqual(Set(grid.cells.map(\.id)).count, grid.cells.count)
        let shards = (0..<3).map { grid.shard($0, of: 3) }
        XCTAssertEqual(shards.map(\.count), [3, 3, 3])
        XCTAssertEqual(Set(shards.flatMap { $0.map(\.id) }), Set(grid.cells.map(\.id)))
    }

    func testEqualSpeedTargetsAreCheckedAndAddOneCellPerMethodAndSeed() throws {
        let withTargets = minimal + "\nequal_speed:\n  - {kind: prefill, batch: 4, length: 512, speedup: 1.25}\n  - {kind: decode, length: 2048, speedup: 1.5, steps: 3}"
        let config = try ExperimentConfig.parse(withTargets, file: "study.yaml")
        XCTAssertEqual(config.equalSpeed, [.init(kind: .prefill, batch: 4, length: 512, speedup: 1.25),
                                           .init(kind: .decode, batch: 1, length: 2048, speedup: 1.5, maxRatio: 0.6, steps: 3)])
        let grid = ExperimentGrid(config)
        XCTAssertEqual(grid.cells.count, 1 + 2 * 2 + 2 * 2)
        XCTAssertEqual(grid.cells.suffix(4).map(\.id), ["smollm2-135m/magnitude-prefill-4x512-1.25x-s0", "smollm2-135m/intraslice-global_pca-prefill-4x512-1.25x-s0",
                                                        "smollm2-135m/magnitude-decode-1x2048-1.5x-s0", "smollm2-135m/intraslice-global_pca-decode-1x2048-1.5x-s0"])
        XCTAssertTrue(grid.cells.suffix(4).allSatisfy { $0.ratio == nil && $0.target != nil })

        let refusals: [(String, String)] = [
            ("speedup: 1.25}", "equal_speed[0]: speedup must be above 1"),
            ("speedup: 1.25}", "equal_speed[0]: max_ratio 0.99 is outside (0, 0.95]"),
            ("speedup: 1.25}", "equal_speed[0]: steps must be 1 to 10"),
            ("speedup: 1.25}", "unknown key 'speed' in equal_speed.[0]"),
            ("{kind: decode, length: 2048, speedup: 1.5, steps: 3}", "equal_speed lists a target twice"),
        ]
        let replacements = ["speedup: 1.0}", "speedup: 1.25, max_ratio: 0.99}", "speedup: 1.25, steps: 0}", "speedup: 1.25, speed: 2}",
                            "{kind: prefill, batch: 4, length: 512, speedup: 1.25}"]
        for ((from, message), to) in zip(refusals, replacements) {
            let text = withTargets.replacingOccurrences(of: from, with: to)
            XCTAssertNotEqual(text, withTargets)
            XCTAssertThrowsError(try ExperimentConfig.parse(text, file: "study.yaml"), to) {
                XCTAssertTrue("\($0)".hasPrefix("study.yaml: ") && "\($0)".contains(message), "\($0)")
            }
        }
    }

    /// A list of calibration settings is a grid axis (a calibration-size ablation): ids name
    /// the setting only then, and one setting is still written as the mapping it was, so
    /// the identity of results made before lists existed does not change.
    func testCalibrationSettingsAreAGridAxis() throws {
        let ablation = minimal + "\ncalibration:\n  - {samples: 32, seqlen: 512}\n  - {samples: 128, seqlen: 512, seeds: [0, 1]}"
        let config = try ExperimentConfig.parse(ablation, file: "study.yaml")
        XCTAssertEqual(config.calibrations.map(\.samples), [32, 128])
        let grid = ExperimentGrid(config)
        XCTAssertEqual(grid.cells.count, 1 + 2 * 2 * 3)
        XCTAssertEqual(grid.cells[1].id, "smollm2-135m/magnitude-p0.20-wiki-32x512-random-s0")
        XCTAssertEqual(grid.cells[3].id, "smollm2-135m/magnitude-p0.20-wiki-128x512-random-s1")
        XCTAssertEqual(grid.cells[3].calibration?.samples, 128)

        let single = try ExperimentConfig.parse(minimal + "\ncalibration: {samples: 32}", file: "study.yaml")
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(single)) as? [String: Any]
        XCTAssertTrue(json?["calibration"] is [String: Any], "one setting is written as a mapping")
        XCTAssertEqual(ExperimentGrid(single).cells[1].id, "smollm2-135m/magnitude-p0.20-s0")
        let twice = minimal + "\ncalibration:\n  - {samples: 32}\n  - {samples: 32, seeds: [0]}"
        XCTAssertThrowsError(try ExperimentConfig.parse(twice, file: "study.yaml")) { XCTAssertTrue("\($0)".contains("calibration lists a setting twice"), "\($0)") }
        let bad = minimal + "\ncalibration:\n  - {samples: 32}\n  - {samples: 0}"
        XCTAssertThrowsError(try ExperimentConfig.parse(bad, file: "study.yaml")) { XCTAssertTrue("\($0)".contains("calibration[1]: samples must be at least 1"), "\($0)") }
        let typo = minimal + "\ncalibration:\n  - {samples: 32}\n  - {sample: 64}"
        XCTAssertThrowsError(try ExperimentConfig.parse(typo, file: "study.yaml")) { XCTAssertTrue("\($0)".contains("unknown key 'sample' in calibration.[1]"), "\($0)") }
    }
}

extension ExperimentConfigTests {
    func testABadValueInACalibrationListIsNamedWhereItIs() {
        let text = minimal + "\ncalibration:\n  - {samples: 32}\n  - {samples: many}"
        XCTAssertThrowsError(try ExperimentConfig.parse(text, file: "study.yaml")) {
            XCTAssertTrue("\($0)".contains("calibration") && "\($0)".contains("samples"), "\($0)")
        }
    }
}

extension ExperimentConfigTests {
    /// Every config committed in Experiments/ passes the checks `experiment run` makes
    /// (models named in them are registry names, so this holds without the assets).
    func testEveryCommittedConfigIsValid() throws {
        let folder = repositoryRoot.appendingPathComponent("Experiments")
        let configs = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertEqual(configs, ["calibration-ablation.yaml", "equal-speed.yaml", "first-look.yaml", "ppl-table.yaml", "smoke.yaml",
                                 "speed-table.yaml", "zeroshot-table.yaml"])
        for name in configs {
            XCTAssertNoThrow(try ExperimentConfig.load(folder.appendingPathComponent(name).path), name)
        }
        let ablation = try ExperimentConfig.load(folder.appendingPathComponent("calibration-ablation.yaml").path)
        XCTAssertEqual(ExperimentGrid(ablation).cells.count, 2 * (1 + 2 * 5 * 2))
    }
}
