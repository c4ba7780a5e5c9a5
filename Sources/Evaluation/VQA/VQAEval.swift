import Foundation

/// The official VQA evaluation (`vqaEval.py` of GT-Vision-Lab/VQA, `VQAEval.evaluate` as of its
/// 2021 fix), for a local VQAv2 val score. It differs from the EvalAI processing that LLaVA's
/// submission and TextVQA scripts use (`VQAAnswerNormalizer`):
/// - the prediction and the ten human answers get only "\n"/"\t" → " " and an outer strip;
/// - only when the human answers are not all the same are both normalised further
///   (`processPunctuation`, with its one-comma-between-digits test, then `processDigitArticle`);
///   when all ten agree, the match is exact;
/// - no lower-casing before the punctuation step, and no "," / "?" / "'s" pre-pass.
/// The score is the mean over the ten leave-one-out subsets of min(matches / 3, 1).
///
/// ```swift
/// VQAEval.accuracy(prediction: "2", humanAnswers: ["2", "2", "two", …])
/// ```
public enum VQAEval {
    /// `evaluate`'s per-question accuracy, in [0, 1].
    public static func accuracy(prediction: String, humanAnswers: [String]) -> Double {
        guard !humanAnswers.isEmpty else { return 0 }
        var predicted = stripped(prediction)
        var answers = humanAnswers.map(stripped)
        if Set(answers).count > 1 {
            answers = answers.map(normalize)
            predicted = normalize(predicted)
        }
        // Each human answer left out in turn (the original compares answer records, whose
        // answer_id makes each one distinct).
        var total = 0.0
        for left in answers.indices {
            let matches = answers.indices.filter { $0 != left && answers[$0] == predicted }.count
            total += min(1, Double(matches) / 3)
        }
        return total / Double(answers.count)
    }

    /// `processPunctuation` then `processDigitArticle`.
    public static func normalize(_ answer: String) -> String {
        VQAAnswerNormalizer.digitsAndArticles(VQAAnswerNormalizer.punctuation(answer, commaRun: false))
    }

    static func stripped(_ s: String) -> String {
        s.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\t", with: " ").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
