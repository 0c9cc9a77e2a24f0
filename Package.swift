// swift-tools-version:6.0
// The layers of the harness, each a target that depends only on the ones above it:
// C libraries (BLAS, LAPACKE, HDF5, zlib) → LinAlg → H5Store → ModelIO → Transformer →
// Datasets → Pruning → Evaluation → Experiments → Reports → the `intraslice` command-line tool.
import PackageDescription

// The forward pass's element-wise kernels (softmax, activations, norms) are SIMD code. On
// x86-64 the Transformer target is compiled for Haswell, i.e. x86-64-v3 (AVX2 and FMA,
// every x86 server CPU since 2015), which takes SmolLM2's 1 × 2048 prefill from about
// 3.8 s to 3.5 s on the AVX-512 machine. The CLI refuses an older CPU with a message
// (`CPUFeatures.missing(from:)`) instead of dying of an illegal instruction.
#if arch(x86_64)
let vectorKernels: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let vectorKernels: [SwiftSetting] = []
#endif

let package = Package(
    name: "IntraSliceHarness",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "intraslice", targets: ["intraslice"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // System libraries. Debian packages: libopenblas-dev, liblapacke-dev, libhdf5-dev, zlib1g-dev.
        .systemLibrary(name: "CCBLAS", path: "Sources/CCBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLAPACKE", path: "Sources/CLAPACKE", pkgConfig: "lapacke",
                       providers: [.apt(["liblapacke-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // Process control (prctl) for the experiment runner's steps; no library to link.
        .systemLibrary(name: "CProcess", path: "Sources/CProcess"),

        .target(name: "LinAlg", dependencies: ["CCBLAS", "CLAPACKE"]),
        .target(name: "H5Store", dependencies: ["CHDF5", "LinAlg"]),
        .target(name: "ModelIO", dependencies: ["H5Store", "LinAlg"]),
        .target(name: "Transformer", dependencies: ["ModelIO", "LinAlg"], swiftSettings: vectorKernels),
        .target(name: "Datasets", dependencies: ["CZlib", "Transformer", "ModelIO", "H5Store", "LinAlg"]),
        .target(name: "Pruning", dependencies: ["Datasets", "Transformer", "ModelIO", "H5Store", "LinAlg"]),
        .target(name: "Evaluation", dependencies: ["Pruning", "Datasets", "Transformer", "ModelIO", "H5Store", "LinAlg"]),
        .target(name: "Experiments", dependencies: [
            "CProcess", "Evaluation", "Pruning", "Datasets", "ModelIO", "H5Store", "LinAlg", .product(name: "Yams", package: "Yams"),
        ]),
        .target(name: "Reports", dependencies: ["Experiments", "Evaluation", "H5Store", .product(name: "Yams", package: "Yams")]),
        .executableTarget(name: "intraslice", dependencies: [
            "Reports", "Experiments", "Evaluation", "Pruning", "Datasets", "Transformer", "ModelIO", "H5Store", "LinAlg",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Fuzz targets for the file readers: a plain build replays the files named on the
        // command line; Scripts/fuzz.sh builds them with libFuzzer and runs them.
        .systemLibrary(name: "CFuzzer", path: "Fuzz/CFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzer", "ModelIO"], path: "Fuzz/Support"),
        .executableTarget(name: "FuzzGGUF", dependencies: ["FuzzSupport", "ModelIO"], path: "Fuzz/GGUF"),
        .executableTarget(name: "FuzzSafetensors", dependencies: ["FuzzSupport", "ModelIO"], path: "Fuzz/Safetensors"),
        .executableTarget(name: "FuzzConfig", dependencies: ["FuzzSupport", "ModelIO", "Transformer"], path: "Fuzz/Config"),
        .executableTarget(name: "FuzzTokenizerJSON", dependencies: ["FuzzSupport", "ModelIO"], path: "Fuzz/TokenizerJSON"),
        .executableTarget(name: "FuzzTaskFile", dependencies: ["FuzzSupport", "Datasets", "CZlib"], path: "Fuzz/TaskFile"),

        // Helpers shared by the test targets: tiny generated models, running programs.
        .target(name: "TestSupport", dependencies: ["Transformer", "ModelIO", "LinAlg"], path: "Tests/TestSupport"),
        .testTarget(name: "LinAlgTests", dependencies: ["LinAlg"]),
        .testTarget(name: "H5StoreTests", dependencies: ["H5Store", "TestSupport"]),
        .testTarget(name: "ModelIOTests", dependencies: ["ModelIO", "H5Store", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "ModelIO"]),
        .testTarget(name: "TransformerTests", dependencies: ["Transformer", "ModelIO", "LinAlg", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "PruningTests", dependencies: ["Pruning", "Evaluation", "Datasets", "Transformer", "ModelIO", "LinAlg", "H5Store", "TestSupport"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Datasets", "Transformer", "ModelIO", "H5Store", "LinAlg", "TestSupport"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Pruning", "TestSupport"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "Experiments", "H5Store", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "CLITests", dependencies: ["intraslice", "H5Store", "LinAlg", "ModelIO", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
