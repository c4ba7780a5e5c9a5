/// The VQA accuracy of one answer against the human answers (ten in VQAv2, TextVQA and
/// VizWiz), as LLaVA's `TextVQAAccuracyEvaluator` and the official VQA code compute it: every
/// answer normalised; for each human answer left out in turn, min(matches among the others / 3,
/// 1); the mean over the leave-one-out rounds.
///
/// ```swift
/// VQAAccuracy.score(prediction: "two", humanAnswers: ["2", "2", "two", "3", …])
/// ```
public enum VQAAccuracy {
    public static func score(prediction: String, humanAnswers: [String]) -> Double {
        guard !humanAnswers.isEmpty else { return 0 }
        let predicted = VQAAnswerNormalizer.normalize(prediction)
        let answers = humanAnswers.map(VQAAnswerNormalizer.normalize)
        var total = 0.0
        for left in answers.indices {
            var matches = 0
            for i in answers.indices where i != left && answers[i] == predicted { matches += 1 }
            total += min(1, Double(matches) / 3)
        }
        return total / Double(answers.count)
    }

    /// Mean score over (prediction, human answers) pairs, as a fraction.
    public static func mean(_ pairs: [(prediction: String, humanAnswers: [String])]) -> Double {
        guard !pairs.isEmpty else { return 0 }
        return pairs.map { score(prediction: $0.prediction, humanAnswers: $0.humanAnswers) }.reduce(0, +) / Double(pairs.count)
    }
}
