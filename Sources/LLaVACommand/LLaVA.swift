import ArgumentParser
import Foundation
import Language
import Logging
import Tensor

@main
struct LLaVA: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llava",
        abstract: "LLaVA natively in Swift: describe images, chat, serve, train, tokenize, benchmark.",
        version: "0.1.0",
        subcommands: [Generate.self, Chat.self, Serve.self, Train.self, Export.self, Convert.self, Quantize.self, DataCommand.self, Eval.self, TrainTokenizer.self, Tokenize.self, Bench.self])
}

/// Options every model-running command shares.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    @Option(help: "Keys and values kept for attention: f32, f16, or auto (f16 for quantised weights, as llama.cpp keeps them; f32 otherwise).")
    var cacheType: CacheType = .auto

    enum CacheType: String, ExpressibleByArgument, CaseIterable { case auto, f32, f16 }

    @Flag(name: .shortAndLong, help: "Log loading and timing details to stderr.")
    var verbose = false

    /// Sets threads and logging: `level` on stderr (debug with --verbose).
    func apply(level defaultLevel: Logger.Level = .warning) throws {
        Compute.retainFreedMemory()
        if let threads {
            guard threads > 0 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
            Compute.setThreads(threads)
        }
        KVCache.elementTypeOverride = switch cacheType {
        case .auto: nil
        case .f32: .f32
        case .f16: .f16
        }
        let level: Logger.Level = verbose ? .debug : defaultLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        if let kernels = Compute.blasKernels {
            Logger(label: "llava").debug("OpenBLAS did not recognise this CPU; using its \(kernels) kernels")
        }
    }
}
