import LinAlg
import XCTest

final class CPUFeaturesTests: XCTestCase {
    func testFlagsAreReadFromTheFirstProcessor() {
        let cpuinfo = "processor\t: 0\nmodel\t\t: 207\nflags\t\t: fpu sse3 avx2 fma\nbugs\t\t: spectre\n\nprocessor\t: 1\nflags\t\t: fpu\n"
        XCTAssertEqual(CPUFeatures.flags(cpuinfo: cpuinfo), ["fpu", "sse3", "avx2", "fma"])
        XCTAssertEqual(CPUFeatures.flags(cpuinfo: ""), [])
    }

    func testAPre2015CPUIsToldWhatItLacks() throws {
        #if arch(x86_64)
        let sandyBridge: Set<String> = ["sse4_2", "avx", "popcnt"]
        XCTAssertEqual(CPUFeatures.missing(from: sandyBridge), ["avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"])
        XCTAssertEqual(CPUFeatures.missing(from: Set(CPUFeatures.requiredByThisBuild + ["avx512f"])), [])
        // Unknown (no /proc/cpuinfo): nothing is claimed missing.
        XCTAssertEqual(CPUFeatures.missing(from: []), [])
        // This machine ran the suite, so it has them all.
        XCTAssertEqual(CPUFeatures.missing(from: CPUFeatures.current), [])
        #else
        throw XCTSkip("the x86-64-v3 requirement applies to x86-64 builds only")
        #endif
    }
}
