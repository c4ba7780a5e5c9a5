import Foundation
import Tokenizer

/// What to generate and when to stop.
public struct GenerationParameters: Sendable {
    public var maxNewTokens: Int = 256
    public var sampling = SamplingParameters()
    /// Generation ends when the text contains one of these; the stop string is not returned.
    public var stopStrings: [String] = []
    /// Tokens that end generation (the EOS ids of the config and tokenizer by default).
    public var stopTokenIDs: Set<Int>? = nil
    /// Keep the prompt's last-position logits in the result (for comparisons with other runtimes).
    public var keepPrefillLogits = false

    public init(maxNewTokens: Int = 256, sampling: SamplingParameters = SamplingParameters(),
                stopStrings: [String] = [], stopTokenIDs: Set<Int>? = nil) {
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
        self.stopStrings = stopStrings
        self.stopTokenIDs = stopTokenIDs
    }
}

/// Why generation ended.
public enum FinishReason: String, Sendable, Codable {
    case endOfSequence = "eos", stopString = "stop", length = "length", cancelled = "cancelled"
}

/// The outcome of one `generate` call.
public struct GenerationResult: Sendable {
    public var text: String
    public var tokenIDs: [Int]
    public var promptTokenCount: Int
    public var finishReason: FinishReason
    public var prefillSeconds: Double
    public var decodeSeconds: Double
    /// The logits after the prompt (V), when `keepPrefillLogits` asked for them.
    public var prefillLogits: [Float]? = nil

    public var prefillTokensPerSecond: Double { prefillSeconds > 0 ? Double(promptTokenCount) / prefillSeconds : 0 }
    /// Decode rate over the tokens produced after the first (the first comes from the prefill).
    public var decodeTokensPerSecond: Double {
        decodeSeconds > 0 ? Double(max(0, tokenIDs.count - 1)) / decodeSeconds : 0
    }
}

/// Runs the decoder loop: prefill, then one token at a time with the KV cache,
/// streaming text as it becomes final.
///
/// ```swift
/// let generator = TextGenerator(model: model, tokenizer: tokenizer)
/// let result = try generator.generate(prompt: tokenizer.encode("Once upon a time"),
///                                     parameters: GenerationParameters(maxNewTokens: 32)) { piece in
///     print(piece, terminator: "")
///     return true   // keep going
/// }
/// ```
public struct TextGenerator {
    public let model: LlamaModel
    public let tokenizer: Tokenizer

    public init(model: LlamaModel, tokenizer: Tokenizer) {
        self.model = model
        self.tokenizer = tokenizer
    }

    /// Default stop tokens: the config's EOS ids and the tokenizer's.
    public var defaultStopTokens: Set<Int> {
        var s = Set(model.config.eosTokenIDs)
        if let e = tokenizer.eosTokenID { s.insert(e) }
        return s
    }

    /// Generates after `prompt`, continuing `cache` (a fresh one when nil).
    /// `onText` receives each final piece of text; returning false cancels.
    ///
    /// - Parameters:
    ///   - prompt: the token ids of the new input (they also feed the repetition penalty).
    ///   - embeddings: when given, the (T, D) input embeddings to prefill instead of the
    ///     tokens' own (image features spliced in); T must equal `prompt.count`.
    ///   - history: earlier tokens of the sequence (already in `cache`), for the repetition penalty.
    public func generate(prompt: [Int], embeddings: [Float]? = nil, history earlier: [Int] = [],
                         parameters: GenerationParameters, cache: KVCache? = nil,
                         onText: (String) -> Bool = { _ in true }) throws -> GenerationResult {
        let cache = cache ?? model.makeCache(capacity: prompt.count + parameters.maxNewTokens)
        var state = DecodingState(tokenizer: tokenizer, parameters: parameters, stopTokens: defaultStopTokens,
                                  history: earlier + prompt)
        var result = GenerationResult(text: "", tokenIDs: [], promptTokenCount: prompt.count,
                                      finishReason: .length, prefillSeconds: 0, decodeSeconds: 0)
        let clock = ContinuousClock()
        let t0 = clock.now
        var logits = try embeddings.map { try model.forward(embeddings: $0, cache: cache) }
            ?? model.forward(tokens: prompt, cache: cache)
        result.prefillSeconds = seconds(clock.now - t0)
        if parameters.keepPrefillLogits { result.prefillLogits = logits }
        let t1 = clock.now
        while let next = state.advance(logits: &logits, cacheFull: cache.count >= cache.maxCapacity, onText: onText) {
            logits = try model.forward(tokens: [next], cache: cache)
        }
        result.text = state.text
        result.tokenIDs = state.generated
        result.finishReason = state.finishReason ?? .length
        result.decodeSeconds = seconds(clock.now - t1)
        return result
    }
}

/// One sequence's decoding after its prefill: sampling, stop tokens and strings, the token
/// budget and streamed text. `TextGenerator` and the batching engine both drive it, so a
/// request answered among others stops and streams exactly as it does alone.
///
/// ```swift
/// var state = DecodingState(tokenizer: tokenizer, parameters: parameters, stopTokens: [2], history: prompt)
/// var logits = try model.forward(tokens: prompt, cache: cache)
/// while let next = state.advance(logits: &logits, cacheFull: false, onText: { print($0); return true }) {
///     logits = try model.forward(tokens: [next], cache: cache)
/// }
/// ```
public struct DecodingState {
    public let parameters: GenerationParameters
    private var sampler: Sampler
    private let stops: Set<Int>
    private var filter: StopStringFilter
    private var detokenizer: StreamingDetokenizer
    private var history: [Int]
    public private(set) var generated: [Int] = []
    /// Set once the sequence has ended.
    public private(set) var finishReason: FinishReason?

    /// `history` is every token already in the sequence (for the repetition penalty);
    /// `parameters.stopTokenIDs`, when set, replaces `stopTokens`.
    public init(tokenizer: Tokenizer, parameters: GenerationParameters, stopTokens: Set<Int>, history: [Int]) {
        self.parameters = parameters
        sampler = Sampler(parameters.sampling)
        stops = parameters.stopTokenIDs ?? stopTokens
        filter = StopStringFilter(stopStrings: parameters.stopStrings)
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        self.history = history
    }

    /// The text shown so far (stop string excluded).
    public var text: String { filter.emitted }

    /// Picks a token from the last position's `logits` (modified in place) and streams its text.
    /// Returns the token to run next, or nil when the sequence has ended (`finishReason` says why).
    /// `onText` returning false cancels; `cacheFull` ends the answer with "length".
    public mutating func advance(logits: inout [Float], cacheFull: Bool, onText: (String) -> Bool) -> Int? {
        guard finishReason == nil else { return nil }
        guard generated.count < parameters.maxNewTokens else { return end(.length, onText) }
        let id = sampler.next(logits: &logits, history: history)
        if stops.contains(id) { return end(.endOfSequence, onText) }
        generated.append(id)
        history.append(id)
        let (piece, stopped) = filter.push(detokenizer.append(id))
        if !piece.isEmpty && !onText(piece) { finishReason = .cancelled; return nil }
        if stopped { finishReason = .stopString; return nil }
        // A full context ends the answer (finish reason "length") rather than losing it.
        if generated.count == parameters.maxNewTokens || cacheFull { return end(.length, onText) }
        return id
    }

    /// Ends the sequence from outside (a client went away): nothing more is streamed.
    public mutating func cancel() {
        if finishReason == nil { finishReason = .cancelled }
    }

    /// Ends with `reason`, releasing the text held back for stop strings and partial characters.
    private mutating func end(_ reason: FinishReason, _ onText: (String) -> Bool) -> Int? {
        finishReason = reason
        let (tail, _) = filter.push(detokenizer.finish())
        let rest = tail + filter.flush()
        if !rest.isEmpty { _ = onText(rest) }
        return nil
    }
}

/// A duration in seconds.
public func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// Holds back streamed text that could be the start of a stop string, and cuts
/// the text at the first stop string found.
public struct StopStringFilter {
    public let stopStrings: [String]
    private var pending = ""
    public private(set) var emitted = ""

    public init(stopStrings: [String]) { self.stopStrings = stopStrings.filter { !$0.isEmpty } }

    /// Adds text; returns what may be shown now and whether a stop string was reached.
    public mutating func push(_ piece: String) -> (String, Bool) {
        pending += piece
        for stop in stopStrings {
            if let r = pending.range(of: stop) {
                let out = String(pending[..<r.lowerBound])
                pending = ""
                emitted += out
                return (out, true)
            }
        }
        // Keep the longest suffix that is a proper prefix of some stop string.
        var hold = 0
        for stop in stopStrings {
            for n in stride(from: min(stop.count - 1, pending.count), to: 0, by: -1)
            where pending.hasSuffix(stop.prefix(n)) {
                hold = max(hold, n)
                break
            }
        }
        let cut = pending.index(pending.endIndex, offsetBy: -hold)
        let out = String(pending[..<cut])
        pending = String(pending[cut...])
        emitted += out
        return (out, false)
    }

    /// Releases whatever was held back (generation ended without a stop string).
    public mutating func flush() -> String {
        let out = pending
        pending = ""
        emitted += out
        return out
    }
}
