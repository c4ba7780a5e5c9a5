import Foundation

/// The answer normalisation of the VQA challenge's evaluation (EvalAI's processor, which
/// LLaVA's `m4c_evaluator.EvalAIAnswerProcessor` and its VQAv2/VizWiz submission scripts use):
/// lower case; drop "," and "?" and split "'s"; punctuation removed or turned into a space;
/// periods not followed by a digit removed; number words to digits; articles dropped;
/// contractions restored.
///
/// ```swift
/// VQAAnswerNormalizer.normalize("Two dogs.")  // "2 dogs"
/// ```
public enum VQAAnswerNormalizer {
    public static func normalize(_ answer: String) -> String {
        var item = answer.lowercased()
            .replacingOccurrences(of: ",", with: "").replacingOccurrences(of: "?", with: "")
            .replacingOccurrences(of: "'s", with: " 's")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        item = item.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\t", with: " ")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return digitsAndArticles(punctuation(item, commaRun: true))
    }

    static let punctuationMarks: [String] = [";", "/", "[", "]", "\"", "{", "}", "(", ")", "=", "+", "\\", "_", "-",
                                             ">", "<", "@", "`", ",", "?", "!"]

    /// Whether the text has a digit, commas, a digit (Python's `\d`: any decimal digit). EvalAI's
    /// `COMMA_STRIP`, `(?<=\d)(\,)+(?=\d)`, takes a run of commas; vqaEval.py's `commaStrip`,
    /// `(\d)(\,)(\d)`, exactly one.
    static func hasDigitComma(_ text: String, commaRun: Bool) -> Bool {
        let s = Array(text.unicodeScalars)
        let isDigit = { (c: Unicode.Scalar) in c.properties.numericType == .decimal }
        var i = 1
        while i < s.count {
            if s[i] == ",", isDigit(s[i - 1]) {
                var j = i
                while commaRun && j + 1 < s.count && s[j + 1] == "," { j += 1 }
                if j + 1 < s.count && isDigit(s[j + 1]) { return true }
            }
            i += 1
        }
        return false
    }

    /// A mark next to a space (or any text with a comma between digits) is deleted; otherwise it
    /// becomes a space. The checks read the input, the edits apply to the running output, as
    /// the original does.
    static func punctuation(_ text: String, commaRun: Bool) -> String {
        let commaBetweenDigits = hasDigitComma(text, commaRun: commaRun)
        var out = text
        for p in punctuationMarks {
            let deleted = text.contains(p + " ") || text.contains(" " + p) || commaBetweenDigits
            out = out.replacingOccurrences(of: p, with: deleted ? "" : " ")
        }
        return stripPeriods(out)
    }

    /// Removes "." not followed by a digit (Python's `\d`: any decimal digit). The original calls
    /// `re.sub(pattern, "", text, re.UNICODE)`, which passes the flag as `count` (32): only the
    /// first 32 such periods go.
    static func stripPeriods(_ text: String) -> String {
        var scalars = Array(text.unicodeScalars)
        var removed = 0
        var i = 0
        while i < scalars.count {
            if scalars[i] == ".", removed < 32, !(i + 1 < scalars.count && scalars[i + 1].properties.numericType == .decimal) {
                scalars.remove(at: i)
                removed += 1
            } else {
                i += 1
            }
        }
        var out = ""
        out.unicodeScalars.append(contentsOf: scalars)
        return out
    }

    static func digitsAndArticles(_ text: String) -> String {
        var words: [String] = []
        for word in text.lowercased().split(whereSeparator: { $0.isWhitespace }).map(String.init) {
            let mapped = numberWords[word] ?? word
            if !articles.contains(mapped) { words.append(mapped) }
        }
        return words.map { contractions[$0] ?? $0 }.joined(separator: " ")
    }

    static let articles: Set<String> = ["a", "an", "the"]
    static let numberWords: [String: String] = [
        "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
        "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
    ]
}
