// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-llava",
    products: [
        .executable(name: "llava", targets: ["LLaVACommand"]),
        .library(name: "LLaVA", targets: ["LLaVA"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "DataGeneration", targets: ["DataGeneration"]),
        .library(name: "OpenAIClient", targets: ["OpenAIClient"]),
        .library(name: "Evaluation", targets: ["Evaluation"]),
        .library(name: "Vision", targets: ["Vision"]),
        .library(name: "Language", targets: ["Language"]),
        .library(name: "Tokenizer", targets: ["Tokenizer"]),
        .library(name: "Checkpoint", targets: ["Checkpoint"]),
        .library(name: "Tensor", targets: ["Tensor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // System-library shim: OpenBLAS (Debian's libopenblas-dev).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // System-library shim: Open MPI (Debian's libopenmpi-dev; mpirun from openmpi-bin), linked
        // directly, for data-parallel training. A run not started by mpirun never calls MPI.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        // Hot SIMD kernels with run-time CPU dispatch (AVX2/FMA/F16C or portable C).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        // libpng + libjpeg-turbo behind a small C layer (libpng reports errors by longjmp,
        // which Swift cannot catch).
        .target(name: "CImageCodecs", cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("turbojpeg")]),
        .target(name: "Tensor", dependencies: ["CBLAS", "CKernels"]),
        // The one JSON string escaper (serde_json's bytes) for JSON written by hand.
        .target(name: "JSONText"),
        .target(name: "Checkpoint", dependencies: ["Tensor", "JSONText"]),
        .target(name: "Tokenizer", dependencies: ["JSONText"]),
        .target(name: "Language", dependencies: [
            "Tensor", "Checkpoint", "Tokenizer", "JSONText",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Vision", dependencies: ["Tensor", "Checkpoint", "CImageCodecs"]),
        .target(name: "LLaVA", dependencies: [
            "Language", "Vision", "Tokenizer", "Checkpoint", "Tensor",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Ranks, allreduce and broadcast over MPI (a world of one without mpirun).
        .target(name: "Distributed", dependencies: ["CMPI"]),
        .target(name: "Training", dependencies: [
            "LLaVA", "Language", "Vision", "Tokenizer", "Checkpoint", "Tensor", "JSONText", "CBLAS", "Distributed",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // A client for OpenAI-compatible chat-completions APIs (the data engine's teacher, a judge).
        .target(name: "OpenAIClient", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "DataGeneration", dependencies: [
            "Vision", "Checkpoint", "Tensor", "CImageCodecs", "OpenAIClient",
            .product(name: "Logging", package: "swift-log"),
        ], resources: [
            // The default teacher prompts for COCO (`llava data generate --prompts` replaces them).
            .copy("Prompts"),
        ]),
        .target(name: "Evaluation", dependencies: [
            "LLaVA", "DataGeneration", "Vision", "Language", "Checkpoint", "Tensor", "OpenAIClient", "JSONText",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The OpenAI-compatible HTTP server (`llava serve`) over the inference engine.
        .target(name: "Server", dependencies: [
            "LLaVA", "Language", "Vision",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
        ], resources: [
            // The web chat page served at `/`: one HTML file, no build step.
            .copy("ChatPage/chat.html"),
        ]),
        // A load generator for an OpenAI-compatible server (`llava bench serve`).
        .target(name: "LoadGenerator", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .executableTarget(name: "LLaVACommand", dependencies: [
            "Server", "LoadGenerator", "DataGeneration", "OpenAIClient", "Evaluation", "Training", "Distributed", "LLaVA", "Language", "Vision", "Tokenizer", "Checkpoint", "Tensor",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], resources: [
            // The built-in model (scripts/make_default_model.sh), used when no --model is given.
            .copy("DefaultModel"),
        ]),
        .target(name: "TestSupport", dependencies: ["Tensor", "Checkpoint"],
                path: "Sources/TestSupport"),
        // A scripted OpenAI-compatible endpoint on 127.0.0.1 for client and data-engine tests.
        .target(name: "ScriptedOpenAIServer", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "Tensor", "TestSupport"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "TestSupport"]),
        .testTarget(name: "LanguageTests", dependencies: ["Language", "Tensor", "Checkpoint", "Tokenizer", "TestSupport"]),
        .testTarget(name: "VisionTests", dependencies: ["Vision", "Tensor", "Checkpoint", "TestSupport"]),
        .testTarget(name: "LLaVATests", dependencies: ["LLaVA", "Vision", "Language", "Tokenizer", "Tensor", "Checkpoint", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "LLaVA", "Language", "Tokenizer", "Tensor", "Checkpoint", "TestSupport"]),
        .testTarget(name: "DataGenerationTests", dependencies: ["DataGeneration", "OpenAIClient", "Vision", "TestSupport", "ScriptedOpenAIServer"]),
        .testTarget(name: "OpenAIClientTests", dependencies: ["OpenAIClient", "ScriptedOpenAIServer"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "DataGeneration", "LLaVA", "Language", "Vision", "TestSupport", "OpenAIClient", "ScriptedOpenAIServer"]),
        // The doc comments' examples, compiled, and checked to be the ones the docs show.
        .testTarget(name: "DocExamplesTests", dependencies: ["LLaVA", "Language", "Vision", "Tokenizer", "Checkpoint", "TestSupport"]),
        .testTarget(name: "CommandTests", dependencies: ["TestSupport", "Checkpoint", "Tensor", "ScriptedOpenAIServer"]),
        .testTarget(name: "ServerTests", dependencies: [
            "Server", "LoadGenerator", "TestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v5]
)
