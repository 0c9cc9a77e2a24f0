import LinAlg
import XCTest

final class BLASCoreTests: XCTestCase {
    let avx512: Set<String> = ["sse3", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]

    func testAFallbackCoreIsReplacedByTheBestOneTheCPUHas() {
        XCTAssertEqual(BLASCore.replacement(selectedCore: "Prescott", cpuFlags: avx512), "SkylakeX")
        XCTAssertEqual(BLASCore.replacement(selectedCore: "Sandybridge", cpuFlags: ["avx", "avx2", "fma"]), "Haswell")
        // AVX-512F alone (no BW/DQ/VL, as on Knights Landing) is not enough for SkylakeX's kernels.
        XCTAssertEqual(BLASCore.replacement(selectedCore: "Prescott", cpuFlags: ["avx2", "fma", "avx512f"]), "Haswell")
    }

    func testOpenBLASsChoiceStandsWhenItIsNotAFallbackOrTheCPUHasNothingBetter() {
        XCTAssertNil(BLASCore.replacement(selectedCore: "Haswell", cpuFlags: avx512))
        XCTAssertNil(BLASCore.replacement(selectedCore: "Zen", cpuFlags: ["avx2", "fma"]))
        XCTAssertNil(BLASCore.replacement(selectedCore: "SkylakeX", cpuFlags: avx512))
        XCTAssertNil(BLASCore.replacement(selectedCore: "Prescott", cpuFlags: ["sse3", "avx"]))
    }
}
