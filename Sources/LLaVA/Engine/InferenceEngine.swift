import Foundation
import Language
import Logging
import Tokenizer

/// Continuous batching: one loop owns the model and serves many requests at once.
///
/// Requests wait in a queue; up to `parallel` of them are active sequences, each with its own
/// KV cache and decoding state. Every step of the loop admits the waiting requests that fit
/// (encodes their images and prefills their prompts together, between two decode steps of the
/// others, so requests that arrive together also decode together), then runs one batched
/// decode step for all active sequences (`LlamaModel.decodeStep`: the weights
/// read once for every row, each row bit-identical to decoding alone), streams each new
/// piece of text and retires finished or cancelled sequences, freeing their slots at once.
///
/// ```swift
/// let engine = InferenceEngine(model: model, parallel: 4)
/// let request = CompletionRequest(messages: [ChatMessage(role: .user, text: "What is shown?", images: [image])],
///                                 parameters: GenerationParameters(maxNewTokens: 64))
/// for try await event in try engine.submit(request) {
///     if case .text(let piece) = event { print(piece, terminator: "") }
/// }
/// ```
/// Stop iterating the stream (or cancel its task) to cancel a request.
public final class InferenceEngine: @unchecked Sendable {
    public let model: LLaVAModel
    public let template: ConversationTemplate
    public let parallel: Int
    /// Positions one sequence may hold (prompt, image features and answer).
    public let contextLength: Int
    public let maxWaiting: Int
    public let aspect: ImageAspectMode
    let logger: Logger

    private let condition = NSCondition()
    private var waiting: [EngineSequence] = []     // guarded by `condition`
    private var activeCount = 0                    // guarded by `condition`
    private var accepting = true                   // guarded by `condition`
    private var stopped = false                    // guarded by `condition`
    private var thread: Thread?

    /// - Parameters:
    ///   - parallel: the most sequences decoded together.
    ///   - context: positions per sequence (default: the model's `max_position_embeddings`).
    ///   - maxWaiting: requests that may wait beyond the active ones before `submit` refuses.
    public init(model: LLaVAModel, template: ConversationTemplate? = nil, parallel: Int = 4, context: Int? = nil,
                maxWaiting: Int = 64, aspect: ImageAspectMode = .auto, logger: Logger = Logger(label: "llava.engine")) {
        self.model = model
        self.template = template ?? .automatic(for: model)
        self.parallel = max(1, parallel)
        contextLength = max(2, context ?? model.language.config.maxPositionEmbeddings)
        self.maxWaiting = max(0, maxWaiting)
        self.aspect = aspect
        self.logger = logger
        // The loop keeps the engine alive until it ends (after `stopAccepting`, with nothing left to
        // run): an engine released right after `stopAccepting` must not vanish under its own loop.
        let thread = Thread { [self] in self.loop() }
        thread.name = "llava.engine"
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    /// The stop tokens every request gets: the config's EOS ids and the tokenizer's.
    var defaultStopTokens: Set<Int> {
        TextGenerator(model: model.language, tokenizer: model.tokenizer).defaultStopTokens
    }

    /// Queues a request and returns its event stream. Throws at once, without queueing, for a
    /// request that cannot be rendered, a prompt that does not fit the context, a full queue,
    /// or an engine that is shutting down.
    public func submit(_ request: CompletionRequest) throws -> AsyncThrowingStream<CompletionEvent, Error> {
        let prompt = try ChatPrompt(messages: request.messages, template: template, encoder: model.promptEncoder)
        var parameters = request.parameters
        guard parameters.maxNewTokens >= 0 else {
            throw EngineError.invalidRequest(parameter: "max_tokens", reason: "must be at least 0, got \(parameters.maxNewTokens)")
        }
        if let stop = prompt.stopString, !parameters.stopStrings.contains(stop) { parameters.stopStrings.append(stop) }
        let needed = prompt.items.count + 1
        guard needed <= contextLength else {
            throw EngineError.contextLengthExceeded(promptTokens: prompt.items.count, requested: 1, context: contextLength)
        }
        let (stream, continuation) = AsyncThrowingStream<CompletionEvent, Error>.makeStream()
        let sequence = EngineSequence(prompt: prompt, parameters: parameters, continuation: continuation)
        continuation.onTermination = { [weak self, sequence] _ in
            sequence.cancel()
            self?.wake()
        }
        condition.lock()
        defer { condition.unlock() }
        guard accepting else { throw EngineError.shuttingDown }
        let queued = waiting.filter { !$0.isCancelled }.count
        guard queued < maxWaiting || (queued == 0 && activeCount < parallel) else { throw EngineError.queueFull(waiting: queued) }
        waiting.append(sequence)
        condition.signal()
        return stream
    }

    /// Waiting and active counts now.
    public var status: EngineStatus {
        condition.lock()
        defer { condition.unlock() }
        return EngineStatus(waiting: waiting.count, active: activeCount, parallel: parallel)
    }

    /// Stops taking requests and returns once every accepted one has finished.
    public func shutdown() async {
        stopAccepting()
        while !isStopped { try? await Task.sleep(nanoseconds: 10_000_000) }
    }

    /// Refuses new requests from now on; the loop ends once the accepted ones are done.
    public func stopAccepting() {
        condition.lock()
        accepting = false
        condition.signal()
        condition.unlock()
    }

    /// Whether the loop has ended (after `stopAccepting`, with nothing left to run).
    public var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    private func wake() {
        condition.lock()
        condition.signal()
        condition.unlock()
    }

    // MARK: - The loop

    private func loop() {
        let scratch = BatchDecodeScratch()
        var active: [EngineSequence] = []
        while true {
            condition.lock()
            waiting.removeAll { $0.isCancelled && $0.finishCancelledWhileWaiting() }
            while waiting.isEmpty && active.isEmpty && accepting { condition.wait() }
            if waiting.isEmpty && active.isEmpty && !accepting {
                stopped = true
                condition.unlock()
                return
            }
            let admitted = Array(waiting.prefix(parallel - active.count))
            waiting.removeFirst(admitted.count)
            activeCount = active.count + admitted.count
            condition.unlock()

            if !admitted.isEmpty { active += start(admitted, scratch: scratch) }
            active = step(active, scratch: scratch)
            condition.lock()
            activeCount = active.count
            condition.unlock()
        }
    }

    /// Encodes the images and prefills the prompts together (each exactly as alone); returns
    /// the sequences that go on decoding. A request that fails here fails alone.
    private func start(_ admitted: [EngineSequence], scratch: BatchDecodeScratch) -> [EngineSequence] {
        var ready: [EngineSequence] = [], embeddings: [[Float]] = []
        for s in admitted where !s.isCancelled {
            do {
                embeddings.append(try s.prepare(model: model, aspect: aspect, context: contextLength))
                ready.append(s)
            } catch {
                logger.warning("request failed before decoding: \(error)")
                s.fail(error)
            }
        }
        for s in admitted where s.isCancelled { s.finish() }
        guard !ready.isEmpty else { return [] }
        do {
            let logits = try model.language.prefill(embeddings: embeddings, caches: ready.map(\.cache!), scratch: scratch)
            let stopTokens = defaultStopTokens
            for (s, var l) in zip(ready, logits) { s.begin(model: model, logits: &l, stopTokens: stopTokens) }
        } catch {
            logger.warning("prefill failed: \(error)")
            for s in ready { s.fail(error) }
            return []
        }
        return ready.filter { !$0.isFinished }
    }

    /// One batched decode step over the sequences that have a next token; returns those still running.
    private func step(_ active: [EngineSequence], scratch: BatchDecodeScratch) -> [EngineSequence] {
        for s in active where s.isCancelled { s.finish() }
        let running = active.filter { !$0.isFinished }
        guard !running.isEmpty else { return [] }
        do {
            let logits = try model.language.decodeStep(tokens: running.map { $0.nextToken! }, caches: running.map(\.cache!),
                                                       scratch: scratch)
            for (s, var l) in zip(running, logits) { s.accept(logits: &l) }
        } catch {
            logger.error("decode step failed: \(error)")
            for s in running { s.fail(error) }
            return []
        }
        return running.filter { !$0.isFinished }
    }
}
