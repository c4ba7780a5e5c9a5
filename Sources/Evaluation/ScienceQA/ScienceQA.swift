import Foundation

/// ScienceQA as LLaVA evaluates it: the `CQM-A` prompt of `convert_sqa_to_llava.py` with the
/// option-letter instruction of `model_vqa_science.py --single-pred-prompt`, the answer reading
/// of `eval_science_qa.py`, and the paper's table by subject, context and grade (the categories
/// of ScienceQA's own `evaluate_acc.py`).
public enum ScienceQA {
    public static let options = ["A", "B", "C", "D", "E"]

    /// "Context: …\nQuestion: …\nOptions: (A) … (B) …" with double spaces collapsed once and the
    /// ends trimmed, as the conversion script builds it; an empty hint reads "N/A".
    public static func questionText(_ p: ScienceQAProblem) -> String {
        let hint = p.hint.trimmingCharacters(in: .whitespacesAndNewlines)
        let context = hint.isEmpty ? "N/A" : hint
        let choices = zip(options, p.choices).map { "(\($0)) \($1)" }.joined(separator: " ")
        let input = "Context: \(context)\nQuestion: \(p.question)\nOptions: \(choices)\n"
        return input.replacingOccurrences(of: "  ", with: " ").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The text the model gets (the image, if any, goes first on its own line).
    public static func prompt(_ p: ScienceQAProblem) -> String {
        BenchmarkInstruction.append(BenchmarkInstruction.optionLetter, to: questionText(p))
    }

    public static func items(_ problems: [ScienceQAProblem], imageFolder: URL) -> [BenchmarkItem] {
        problems.map { p in
            BenchmarkItem(id: p.id, image: p.image.map { .file(imageFolder.appendingPathComponent(p.id).appendingPathComponent($0)) },
                          text: prompt(p), recordedPrompt: p.image == nil ? prompt(p) : "<image>\n" + prompt(p))
        }
    }

    /// `findall(r'The answer is ([A-Z]).', text)`: "." is any character but a newline.
    static func answerIsMatches(_ text: String) -> [String] {
        let regex = try! NSRegularExpression(pattern: "The answer is ([A-Z]).")
        let ns = text as NSString
        return regex.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: 1)) }
    }

    /// The letter a model's answer gives: the whole answer a letter A–E; or "X. " at its start;
    /// or exactly one "The answer is X." in it; otherwise nil (counted wrong).
    public static func extractLetter(_ text: String) -> String? {
        if options.contains(text) { return text }
        let chars = Array(text)
        if chars.count >= 3, options.contains(String(chars[0])), chars[1] == ".", chars[2] == " " { return String(chars[0]) }
        let found = answerIsMatches(text)
        return found.count == 1 ? found[0] : nil
    }

    /// Only "The answer is X." (a judge's reply, as `eval_science_qa_gpt4*.py` read GPT-4's).
    public static func extractJudgeLetter(_ text: String) -> String? {
        let found = answerIsMatches(text)
        return found.count == 1 ? found[0] : nil
    }

    /// The choice index a letter names, or -1 when none (as `get_pred_idx` without its random fallback).
    public static func choiceIndex(_ letter: String?, choiceCount: Int) -> Int {
        guard let letter, let i = options.prefix(choiceCount).firstIndex(of: letter) else { return -1 }
        return i
    }
}
