import Dispatch
import Foundation
import Language
import Tokenizer
import Vision

/// A multi-turn conversation with a LLaVA model.
///
/// Each image is encoded once, when it is sent. The KV cache carries across turns: a new
/// turn re-renders the conversation through its template and runs only the positions that
/// differ from what the cache already holds.
///
/// ```swift
/// let session = ChatSession(model: model)
/// let stream = session.send("Describe the image.", images: [image])
/// for try await piece in stream { print(piece, terminator: "") }
/// for try await piece in session.send("What colour is the car?") { print(piece, terminator: "") }
/// ```
/// Stop consuming the stream (or cancel its task) to stop generation mid-way.
public final class ChatSession: @unchecked Sendable {
    public let model: LLaVAModel
    public let template: ConversationTemplate
    public var parameters: GenerationParameters
    public var aspect: ImageAspectMode

    private var conversation: Conversation
    private var features: [Int: [Float]] = [:]
    private var cache: KVCache
    private var cachedItems: [InputItem] = []
    private let queue = DispatchQueue(label: "llava.chat-session")

    public init(model: LLaVAModel, template: ConversationTemplate? = nil,
                parameters: GenerationParameters = GenerationParameters(maxNewTokens: 512),
                aspect: ImageAspectMode = .auto) {
        self.model = model
        self.template = template ?? .automatic(for: model)
        self.parameters = parameters
        self.aspect = aspect
        conversation = Conversation(template: self.template)
        cache = model.language.makeCache()
    }

    /// Forgets the conversation, its images and the cache.
    public func reset() {
        queue.sync {
            conversation = Conversation(template: template)
            features = [:]
            cachedItems = []
            cache.truncate(to: 0)
        }
    }

    /// Sends a user message (with images, if any) and streams the answer's text.
    /// Without `<image>` markers in `text`, each image goes before the text as the reference CLI puts it.
    /// Generation keeps at most one piece ahead of the reader, so an abandoned stream stops it
    /// within a token and the history keeps only about what was read.
    public func send(_ text: String, images: [RGBImage] = []) -> AsyncThrowingStream<String, Error> {
        let cancelled = CancellationFlag()
        return AsyncThrowingStream(bufferingPolicy: .bufferingOldest(1)) { continuation in
            continuation.onTermination = { _ in cancelled.set() }
            queue.async {
                do {
                    let result = try self.respond(text, images: images) { piece in
                        // A full buffer drops the piece: wait for the reader (or its leaving) and offer it again.
                        while !cancelled.isSet {
                            switch continuation.yield(piece) {
                            case .enqueued: return true
                            case .dropped: usleep(200)
                            case .terminated: return false
                            @unknown default: return false
                            }
                        }
                        return false
                    }
                    _ = result
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
        }
    }

    /// The synchronous form of `send`: `onText` gets each piece; returning false stops.
    @discardableResult
    public func respond(_ text: String, images: [RGBImage] = [],
                        onText: (String) -> Bool = { _ in true }) throws -> GenerationResult {
        let first = features.count
        for (k, image) in images.enumerated() { features[first + k] = try model.encode(image, aspect: aspect) }
        let marked = PromptEncoder.placingImages(images.count, before: text)
        var next = conversation
        next.append(user: marked)
        let items = try model.promptEncoder.encode(next.prompt, imageCount: features.count)
        var p = parameters
        if let stop = template.stopString, !p.stopStrings.contains(stop) { p.stopStrings.append(stop) }
        let result = try generate(items: items, parameters: p, onText: onText)
        next.append(assistant: result.text.trimmingCharacters(in: .whitespacesAndNewlines))
        conversation = next
        return result
    }

    /// Prefills what the cache lacks of `items`, then generates.
    private func generate(items: [InputItem], parameters: GenerationParameters,
                          onText: (String) -> Bool) throws -> GenerationResult {
        var shared = 0
        while shared < min(items.count, cachedItems.count) && items[shared] == cachedItems[shared] { shared += 1 }
        shared = min(shared, items.count - 1)  // at least one position runs, to get logits
        cache.truncate(to: shared)
        let imageToken = model.configuration.layout == .llavaHF ? model.configuration.imageTokenID : -1
        let ids = items.map { $0.historyID(imageToken: imageToken) }
        let newItems = items[shared...]
        let embeddings = try model.embeddings(for: newItems, images: features)
        let generator = TextGenerator(model: model.language, tokenizer: model.tokenizer)
        let result = try generator.generate(prompt: Array(ids[shared...]), embeddings: embeddings,
                                            history: Array(ids[..<shared]).filter { $0 >= 0 },
                                            parameters: parameters, cache: cache, onText: onText)
        cachedItems = Array((items + result.tokenIDs.map { InputItem.token($0) }).prefix(cache.count))
        return result
    }
}

/// A flag set from one thread and read from another.
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
