import Foundation
import Language

/// One request inside the engine (a "slot" once active): its prompt, KV cache, decoding state
/// and the stream it answers on. Only the engine's loop touches it, except `cancel()`, which
/// the stream's termination calls from any thread.
final class EngineSequence: @unchecked Sendable {
    let prompt: ChatPrompt
    let parameters: GenerationParameters
    private let continuation: AsyncThrowingStream<CompletionEvent, Error>.Continuation
    private let submitted = ContinuousClock.now
    private var firstToken: Double = 0

    private(set) var cache: KVCache?
    private var state: DecodingState?
    /// The token to run in the next decode step; nil once finished.
    private(set) var nextToken: Int?
    private(set) var isFinished = false

    private let lock = NSLock()
    private var cancelled = false

    init(prompt: ChatPrompt, parameters: GenerationParameters,
         continuation: AsyncThrowingStream<CompletionEvent, Error>.Continuation) {
        self.prompt = prompt
        self.parameters = parameters
        self.continuation = continuation
    }

    var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }

    func cancel() {
        lock.lock()
        cancelled = true
        lock.unlock()
    }

    /// Encodes the images and returns the prompt's input embeddings (T, D), with a new cache
    /// sized for the prompt and the answer; the engine then prefills them (with others').
    func prepare(model: LLaVAModel, aspect: ImageAspectMode, context: Int) throws -> [Float] {
        var features: [Int: [Float]] = [:]
        for (k, image) in prompt.images.enumerated() { features[k] = try model.encode(image, aspect: aspect) }
        let items = prompt.items
        let embeddings = try model.embeddings(for: items[...], images: features)
        let capacity = min(context, items.count + max(1, parameters.maxNewTokens))
        cache = model.language.makeCache(capacity: capacity, maxCapacity: context)
        return embeddings
    }

    /// Starts decoding from the prefilled prompt's last logits: takes the first token.
    func begin(model: LLaVAModel, logits: inout [Float], stopTokens: Set<Int>) {
        let imageToken = model.configuration.layout == .llavaHF ? model.configuration.imageTokenID : -1
        state = DecodingState(tokenizer: model.tokenizer, parameters: parameters, stopTokens: stopTokens,
                              history: prompt.items.map { $0.historyID(imageToken: imageToken) })
        firstToken = seconds(ContinuousClock.now - submitted)
        continuation.yield(.started(promptTokens: prompt.items.count))
        accept(logits: &logits)
    }

    /// Picks the next token from the last position's logits and streams its text.
    func accept(logits: inout [Float]) {
        guard state != nil, let cache else { return }
        let continuation = continuation
        nextToken = state!.advance(logits: &logits, cacheFull: cache.count >= cache.maxCapacity) { piece in
            continuation.yield(.text(piece))
            return !self.isCancelled
        }
        if nextToken == nil { finish() }
    }

    /// Ends the sequence: the summary for a finished answer, or just the end for a cancelled one.
    func finish() {
        guard !isFinished else { return }
        isFinished = true
        nextToken = nil
        if isCancelled { state?.cancel() }
        let s = state
        cache = nil      // the slot's memory goes back at once
        continuation.yield(.finished(CompletionSummary(
            text: s?.text ?? "", tokenIDs: s?.generated ?? [], promptTokens: prompt.items.count,
            finishReason: s?.finishReason ?? .cancelled, secondsToFirstToken: firstToken,
            seconds: seconds(ContinuousClock.now - submitted))))
        continuation.finish()
    }

    /// Ends the sequence with an error.
    func fail(_ error: Error) {
        guard !isFinished else { return }
        isFinished = true
        nextToken = nil
        cache = nil
        continuation.finish(throwing: error)
    }

    /// A request cancelled before it started: ends its stream; true so the queue drops it.
    func finishCancelledWhileWaiting() -> Bool {
        finish()
        return true
    }
}
