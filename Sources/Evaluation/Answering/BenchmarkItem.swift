import Foundation
import Vision

/// One question as a benchmark asks it: a key unique in its answers file, the image (a file or
/// the bytes of an embedded one), and the text exactly as the model gets it, the benchmark's
/// instruction included and without the `<image>` tag (the template puts the image first, on
/// its own line, as the reference's `DEFAULT_IMAGE_TOKEN + '\n' + qs` does).
public struct BenchmarkItem: Sendable, Equatable {
    public enum Image: Sendable, Equatable {
        case file(URL)
        /// Encoded bytes (MMBench's base64 column); `source` names them in errors.
        case encoded(Data, source: String)
    }

    public var id: String
    public var image: Image?
    public var text: String
    /// Copied into the answer's `metadata` (e.g. a POPE category, an MMBench round).
    public var metadata: [String: String]
    /// The answers file's `prompt` when it differs from `text` (ScienceQA records "<image>\n" first).
    public var recordedPrompt: String?
    /// Earlier turns of the conversation, oldest first; the image goes with the first of them
    /// (with `text` when there are none), as in `llava chat`.
    public var history: [PriorTurn]

    public init(id: String, image: Image?, text: String, metadata: [String: String] = [:], recordedPrompt: String? = nil,
                history: [PriorTurn] = []) {
        self.id = id
        self.image = image
        self.text = text
        self.metadata = metadata
        self.recordedPrompt = recordedPrompt
        self.history = history
    }

    /// Decodes the image, if any; errors name the file or the source.
    public func decodeImage(maxPixels: Int = 64_000_000) throws -> RGBImage? {
        let options = ImageDecodingOptions(maxPixels: maxPixels)
        switch image {
        case .none: return nil
        case .file(let url): return try ImageDecoder.decode(contentsOf: url, options: options)
        case .encoded(let data, let source): return try ImageDecoder.decode(data: data, source: source, options: options)
        }
    }
}

/// One earlier exchange of a multi-turn question: what the user asked and what the model answered.
public struct PriorTurn: Sendable, Equatable {
    public var user: String
    public var assistant: String
    public init(user: String, assistant: String) { self.user = user; self.assistant = assistant }
}

/// LLaVA-1.5's instructions (docs/Evaluation.md of the reference), appended after a newline.
public enum BenchmarkInstruction {
    /// Short-answer benchmarks: VQAv2, GQA, TextVQA, VizWiz, POPE, MME.
    public static let shortAnswer = "Answer the question using a single word or phrase."
    /// Multiple choice: ScienceQA (`--single-pred-prompt`), MMBench.
    public static let optionLetter = "Answer with the option's letter from the given choices directly."
    /// VizWiz, before the short-answer line (LLaVA's `llava_test.jsonl`).
    public static let vizWizUnanswerable = "When the provided information is insufficient, respond with 'Unanswerable'."

    /// `question` + "\n" + each instruction.
    public static func append(_ instructions: String..., to question: String) -> String {
        ([question] + instructions).joined(separator: "\n")
    }
}
