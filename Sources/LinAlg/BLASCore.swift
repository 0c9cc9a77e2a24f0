import CCBLAS
import Foundation

/// The CPU kernels OpenBLAS runs. A DYNAMIC_ARCH OpenBLAS picks its kernels from the CPU
/// model when it loads; one older than the CPU (Debian 12's 0.3.21 on an Emerald Rapids
/// Xeon, model 207) falls back to Prescott's SSE3 kernels, and every product then runs at
/// a quarter of the machine's speed (sgemm 2048²: 60 against 258 GFLOP/s on 2 threads).
/// The kernels are chosen once, at load, from `OPENBLAS_CORETYPE`, so the fix is to set it
/// and start the process again (`relaunchWithSupportedCoreIfNeeded`).
public enum BLASCore {
    /// Cores OpenBLAS reports when it does not know a CPU, or for CPUs without AVX2: on a
    /// CPU that has AVX2 and FMA, any of them means the fallback happened.
    static let preAVX2Cores: Set<String> = [
        "prescott", "core2", "penryn", "dunnington", "nehalem", "sandybridge", "atom", "nano",
        "katmai", "coppermine", "northwood", "banias", "athlon", "opteron", "opteron_sse3",
        "barcelona", "bobcat", "bulldozer", "piledriver", "steamroller", "unknown",
    ]

    /// The OpenBLAS core to force, or nil when OpenBLAS's own choice stands: SkylakeX's
    /// kernels where the CPU has the AVX-512 subsets they use, else Haswell's where it has
    /// AVX2 and FMA, and only when OpenBLAS chose a core without AVX2.
    public static func replacement(selectedCore: String, cpuFlags: Set<String>) -> String? {
        guard preAVX2Cores.contains(selectedCore.lowercased()) else { return nil }
        if cpuFlags.isSuperset(of: ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]) { return "SkylakeX" }
        if cpuFlags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// When OpenBLAS fell back to pre-AVX2 kernels on a CPU that has better ones and the
    /// user did not choose a core, sets `OPENBLAS_CORETYPE` and re-executes this program
    /// with the same arguments, so that OpenBLAS loads the right kernels. Called first thing
    /// in `main`; returns (doing nothing) when no change is needed or the exec fails.
    public static func relaunchWithSupportedCoreIfNeeded() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let core = replacement(selectedCore: BLASThreads.coreName, cpuFlags: CPUFeatures.flags(cpuinfo: cpuinfo))
        else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_CORETYPE")  // the exec failed: run on as we are
    }
}
