import ArgumentParser
import Foundation
import LLaVA
import Logging
import Server

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a model over OpenAI's chat completions API, with a web chat page at /.",
        discussion: """
        Endpoints: POST /v1/chat/completions (images as data URIs, streaming with "stream": true), \
        GET /v1/models, GET /health, GET /metrics (Prometheus), GET / (chat page). \
        Once bound, one line "listening on http://HOST:PORT" goes to stderr. SIGTERM or SIGINT stops \
        accepting, finishes the requests in flight and exits 0.
        """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Serve random weights of this real model's shape instead of a checkpoint: \(ModelPreset.withVision.map(\.rawValue).joined(separator: ", ")).")
    var preset: ModelPreset?

    @Option(help: "Weight type for a preset's language model: \(PresetWeights.list) (quantised: vision stays f16).")
    var weights: PresetWeights = .f16

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port).")
    var port = 8080

    @Option(help: "Sequences decoded together (slots).")
    var parallel = 4

    @Option(help: "Positions per sequence: prompt, image features and answer (default: the model's maximum).")
    var context: Int?

    @Option(help: "Requests that may wait for a slot before new ones get 503.")
    var maxQueue = 64

    @Option(help: "Require 'Authorization: Bearer KEY' on /v1/ requests (default: $LLAVA_API_KEY, if set).")
    var apiKey: String?

    @Option(help: "Largest request body accepted, in bytes (413 beyond it).")
    var maxBodyBytes = 32 << 20

    @Option(help: "The model id clients name in 'model' (default: the model directory's name).")
    var modelID: String?

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard preset == nil || modelOptions.model == nil else { throw ValidationError("give --model or --preset, not both") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535, got \(port)") }
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1, got \(parallel)") }
        guard maxQueue >= 0 else { throw ValidationError("--max-queue must be at least 0, got \(maxQueue)") }
        guard maxBodyBytes > 0 else { throw ValidationError("--max-body-bytes must be positive, got \(maxBodyBytes)") }
        if let context, context < 2 { throw ValidationError("--context must be at least 2, got \(context)") }
        guard modelOptions.convMode != "raw" else {
            throw ValidationError("--conv-mode raw cannot render a chat: use auto or a template name")
        }
    }

    func run() async throws {
        try runtime.apply(level: .info)
        let logger = Logger(label: "llava.serve")
        let registry = ServerMetrics.bootstrapPrometheus()
        let (model, id) = try loadModel(logger: logger)
        let maxContext = model.language.config.maxPositionEmbeddings
        if let context, context > maxContext {
            throw ValidationError("--context \(context) exceeds the model's \(maxContext) positions")
        }
        let template = modelOptions.convMode == "auto" ? ConversationTemplate.automatic(for: model)
                                                       : try ConversationTemplate.named(modelOptions.convMode)
        let engine = InferenceEngine(model: model, template: template, parallel: parallel, context: context,
                                     maxWaiting: maxQueue, aspect: modelOptions.imageAspect.mode, logger: logger)
        let settings = ServerConfiguration(host: host, port: port, modelID: id,
                                           apiKey: apiKey ?? ProcessInfo.processInfo.environment["LLAVA_API_KEY"].flatMap { $0.isEmpty ? nil : $0 },
                                           maxBodyBytes: maxBodyBytes,
                                           maxImagePixels: Int(modelOptions.maxImageMegapixels * 1_000_000))
        let server = try ChatServer(engine: engine, configuration: settings, registry: registry, logger: logger)
        logger.info("serving \(id) (template \(template.name), \(parallel) slots of \(engine.contextLength) positions)")
        try await server.run { host, port in
            FileHandle.standardError.write(Data("listening on http://\(host):\(port)\n".utf8))
        }
        logger.info("stopped")
    }

    /// The model to serve and its id: a checkpoint, the built-in model, or random weights of a preset's shape.
    private func loadModel(logger: Logger) throws -> (LLaVAModel, String) {
        if let preset {
            logger.info("building random \(preset.rawValue) weights (\(weights.rawValue))…")
            let donor = try LLaVAModel(directory: try builtInDirectory())
            let model = try preset.randomLLaVA(weights: weights, donor: donor)
            return (model, modelID ?? model.name)
        }
        let directory = try modelOptions.modelDirectory()
        guard case .llava(let model) = try LoadedModel(directory: directory, visionTower: modelOptions.visionTower, logger: logger) else {
            throw ValidationError("\(directory) is a text-only model: llava serve needs a LLaVA model (a vision tower)")
        }
        return (model, modelID ?? (modelOptions.model == nil ? "llava-builtin" : model.name))
    }

    private func builtInDirectory() throws -> URL {
        guard let url = DefaultModel.directory else { throw ValidationError("--preset borrows the built-in model's tokenizer, and this build has none") }
        return url
    }
}
