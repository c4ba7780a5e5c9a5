import Foundation
import LLaVA
import Language
import Vision

/// One question of an evaluation set, in LLaVA's JSONL form (`{question_id, image, text}`),
/// optionally with the reference answer and a question type (the synthetic world's sets).
public struct EvaluationQuestion: Codable, Sendable, Equatable {
    public var questionID: String
    public var image: String?
    public var text: String
    public var answer: String?
    public var type: String?

    enum CodingKeys: String, CodingKey { case questionID = "question_id", image, text, answer, type }

    public init(questionID: String, image: String?, text: String, answer: String? = nil, type: String? = nil) {
        self.questionID = questionID
        self.image = image
        self.text = text
        self.answer = answer
        self.type = type
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // The reference's files use integer and string ids alike.
        questionID = try c.decodeID(forKey: .questionID)
        image = try c.decodeIfPresent(String.self, forKey: .image)
        text = try c.decode(String.self, forKey: .text)
        answer = try c.decodeIfPresent(String.self, forKey: .answer)
        type = try c.decodeIfPresent(String.self, forKey: .type)
    }
}

/// One model answer, in LLaVA's answers-file form.
public struct EvaluationAnswer: Codable, Sendable {
    /// The metadata key that marks a question whose prompt did not fit the context (its value
    /// says by how much); such an answer is empty.
    public static let overlongKey = "overlong"
    public var isOverlong: Bool { metadata[Self.overlongKey] != nil }

    public var questionID: String
    public var prompt: String
    public var text: String
    public var answerID: String
    public var modelID: String
    public var metadata: [String: String]

    enum CodingKeys: String, CodingKey {
        case questionID = "question_id", prompt, text, answerID = "answer_id", modelID = "model_id", metadata
    }

    public init(questionID: String, prompt: String, text: String, answerID: String, modelID: String, metadata: [String: String]) {
        self.questionID = questionID
        self.prompt = prompt
        self.text = text
        self.answerID = answerID
        self.modelID = modelID
        self.metadata = metadata
    }

    /// Reads the reference's answers files too: integer ids, and metadata of any JSON values
    /// (kept when they are strings).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        questionID = try c.decodeID(forKey: .questionID)
        prompt = try c.decodeIfPresent(String.self, forKey: .prompt) ?? ""
        text = try c.decode(String.self, forKey: .text)
        answerID = (try? c.decodeID(forKey: .answerID)) ?? questionID
        modelID = try c.decodeIfPresent(String.self, forKey: .modelID) ?? ""
        metadata = (try? c.decodeIfPresent([String: String].self, forKey: .metadata)) ?? [:]
    }
}

extension KeyedDecodingContainer {
    /// An id written as a JSON integer or string (the reference's files use both).
    func decodeID(forKey key: Key) throws -> String {
        if let i = try? decode(Int.self, forKey: key) { return String(i) }
        return try decode(String.self, forKey: key)
    }
}

/// Reads and writes JSONL, one object per line; errors name the file and line.
public enum JSONLines {
    public static func read<T: Decodable>(_ url: URL, as: T.Type = T.self) throws -> [T] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw EvaluationError.missingFile(url.path) }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
            .enumerated().map { i, line in
                do { return try JSONDecoder().decode(T.self, from: Data(line.utf8)) } catch {
                    throw EvaluationError.badLine(file: url.path, line: i + 1, reason: "\(error)")
                }
            }
    }

    /// Appends one object as a line (the answers file grows as the run goes, so a stop loses nothing).
    public static func append<T: Encodable>(_ value: T, to handle: FileHandle) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        handle.write(try encoder.encode(value) + Data("\n".utf8))
    }
}

public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    case missingFile(String)
    case badLine(file: String, line: Int, reason: String)
    case invalidArgument(String)
    /// A record of a benchmark file lacks a field or holds a bad value; `location` says which
    /// record ("line 3", "problem 12", "row 5").
    case badField(file: String, location: String, field: String, reason: String)

    public var description: String {
        switch self {
        case .missingFile(let p): return "\(p): file not found"
        case .badLine(let f, let l, let r): return "\(f):\(l): \(r)"
        case .invalidArgument(let s): return s
        case .badField(let f, let at, let field, let r): return "\(f): \(at): field '\(field)': \(r)"
        }
    }
}

/// The reference's model_vqa loop: each question through the model's template with its image,
/// greedy, answers written as they come; `--num-chunks/--chunk-idx` split a set across runs.
public struct QuestionAnswering {
    public let model: LLaVAModel
    public let imageFolder: URL
    public var template: ConversationTemplate
    public var parameters: GenerationParameters
    public var aspect: ImageAspectMode = .auto
    private var cache: (path: String, features: [Float])?

    public init(model: LLaVAModel, imageFolder: URL, template: ConversationTemplate? = nil, maxNewTokens: Int = 128) {
        self.model = model
        self.imageFolder = imageFolder
        self.template = template ?? .automatic(for: model)
        parameters = GenerationParameters(maxNewTokens: maxNewTokens)
        if let stop = self.template.stopString { parameters.stopStrings = [stop] }
    }

    /// The questions of chunk `index` of `count` (contiguous, as the reference's split_list).
    public static func chunk<T>(_ items: [T], count: Int, index: Int) -> ArraySlice<T> {
        let size = Int((Double(items.count) / Double(max(1, count))).rounded(.up))
        let lo = min(items.count, index * size)
        return items[lo..<min(items.count, lo + size)]
    }

    /// Answers one question (greedy unless `parameters` says otherwise).
    public mutating func answer(_ q: EvaluationQuestion) throws -> (prompt: String, text: String) {
        var features: [[Float]] = []
        if let image = q.image {
            if cache?.path != image {
                let decoded = try ImageDecoder.decode(contentsOf: imageFolder.appendingPathComponent(image))
                cache = (image, try model.encode(decoded, aspect: aspect))
            }
            features = [cache!.features]
        }
        var conversation = Conversation(template: template)
        conversation.append(user: PromptEncoder.placingImages(features.count, before: q.text))
        let prompt = conversation.prompt
        let result = try model.generate(prompt: prompt, imageFeatures: features, parameters: parameters)
        return (prompt, result.text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
