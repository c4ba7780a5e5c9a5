import Foundation

/// The judge's instructions of LLaVA's review protocol (`llava/eval/table/rule.json`): one per
/// category, all with the same request (two 1–10 scores alone on the first line, then the
/// explanation); only the description of the context differs between the in-the-wild layout
/// (a few sentences) and the COCO layout (five captions and boxes).
public struct LLaVABenchRule: Codable, Sendable, Equatable {
    public var role: String
    public var prompt: String

    static let opening = "We would like to request your feedback on the performance of two AI assistants in response to the user question displayed above. The user asks the question on observing an image. "
    static let wildContext = "For your reference, the visual content in the image is represented with a few sentences describing the image. "
    static let cocoContext = "For your reference, the visual content in the image is represented with five descriptive sentences describing the same image and the bounding box coordinates of each object in the scene. These coordinates are in the form of bounding boxes, represented as (x1, y1, x2, y2) with floating numbers ranging from 0 to 1. These values correspond to the top left x, top left y, bottom right x, and bottom right y. "
    static let request = "\nPlease rate the helpfulness, relevance, accuracy, level of details of their responses. Each assistant receives an overall score on a scale of 1 to 10, where a higher score indicates better overall performance.\nPlease first output a single line containing only two values indicating the scores for Assistant 1 and 2, respectively. The two scores are separated by a space.\nIn the subsequent line, please provide a comprehensive explanation of your evaluation, avoiding any potential bias and ensuring that the order in which the responses were presented does not affect your judgment."

    /// The rules keyed as in `rule.json`: `llava_bench_<category>` (in the wild) and `<category>` (COCO).
    public static let builtIn: [String: LLaVABenchRule] = {
        var rules: [String: LLaVABenchRule] = [:]
        for c in ["conv", "detail", "complex"] {
            rules["llava_bench_\(c)"] = LLaVABenchRule(role: "Assistant", prompt: opening + wildContext + request)
            rules[c] = LLaVABenchRule(role: "Assistant", prompt: opening + cocoContext + request)
        }
        return rules
    }()

    /// A `rule.json` file (category → {role, prompt}).
    public static func load(_ url: URL) throws -> [String: LLaVABenchRule] {
        do { return try JSONDecoder().decode([String: LLaVABenchRule].self, from: try BenchmarkFile.data(url)) } catch let e as EvaluationError {
            throw e
        } catch {
            throw EvaluationError.badLine(file: url.path, line: 1, reason: "expected {category: {role, prompt}}: \(error)")
        }
    }
}
