import Foundation
import Tokenizer

/// Turning a LLaVA JSON record into token ids and labels, exactly as the reference's
/// `preprocess_multimodal` followed by `preprocess_plain` (stage 1) or `preprocess_v1`
/// (stage 2) does in `llava/train/train.py`.
///
/// The output is in the original layout: one placeholder id (-200) where the image goes; the
/// model splices all of the image's features in there. `TrainingSample.expandingImage` gives
/// the llava-hf layout. Labels are the input ids with what is not learned set to -100; the
/// model shifts them by one when it computes the loss.

/// Which of the reference's prompt formats to train with.
public enum DataTemplate: String, Sendable, CaseIterable {
    /// Stage 1 (feature alignment): `<image>` + caption + "\n"; only the image is masked.
    case plain
    /// Stage 2 (instruction tuning): `vicuna_v1`; only the answers and their `</s>` are learned.
    case v1
}

/// One tokenised training example.
public struct TrainingSample: Equatable, Sendable {
    /// -100: a position the loss ignores.
    public static let ignoreIndex = -100
    /// -200: the original layout's single image placeholder.
    public static let imagePlaceholder = -200

    public let id: String
    /// Token ids (T), with `imagePlaceholder` where the image goes.
    public let inputIDs: [Int]
    /// Targets (T): the id to learn at each position, or `ignoreIndex`.
    public let labels: [Int]
    /// The record's image path (relative to the image folder), nil for text-only samples.
    public let imagePath: String?

    public init(id: String, inputIDs: [Int], labels: [Int], imagePath: String?) {
        precondition(inputIDs.count == labels.count, "\(inputIDs.count) ids but \(labels.count) labels")
        self.id = id
        self.inputIDs = inputIDs
        self.labels = labels
        self.imagePath = imagePath
    }

    /// The llava-hf layout: each placeholder becomes `featuresPerImage` copies of the
    /// checkpoint's image token (labels ignored over them), cut to `maxLength` if given
    /// (the reference cuts the spliced sequence to the model max length the same way).
    ///
    /// ```swift
    /// let hf = sample.expandingImage(imageTokenID: 32000, featuresPerImage: 576, maxLength: 2048)
    /// ```
    public func expandingImage(imageTokenID: Int, featuresPerImage: Int, maxLength: Int? = nil) -> TrainingSample {
        var ids: [Int] = [], targets: [Int] = []
        ids.reserveCapacity(inputIDs.count + featuresPerImage)
        targets.reserveCapacity(inputIDs.count + featuresPerImage)
        for (id, label) in zip(inputIDs, labels) {
            if id == Self.imagePlaceholder {
                ids += repeatElement(imageTokenID, count: featuresPerImage)
                targets += repeatElement(Self.ignoreIndex, count: featuresPerImage)
            } else {
                ids.append(id)
                targets.append(label)
            }
        }
        let n = min(ids.count, maxLength ?? ids.count)
        return TrainingSample(id: id, inputIDs: Array(ids[..<n]), labels: Array(targets[..<n]), imagePath: imagePath)
    }
}

/// Records → samples for one template and tokenizer.
///
/// ```swift
/// let tokenizer = try Tokenizer(directory: modelFolder)
/// let preprocessor = DataPreprocessor(tokenizer: tokenizer, template: .v1, modelMaxLength: 2048)
/// for record in try DataLoading.records(contentsOf: dataURL) {
///     let sample = try preprocessor.sample(from: record)   // throws on a tokenization mismatch
/// }
/// ```
public struct DataPreprocessor {
    public let tokenizer: Tokenizer
    public let template: DataTemplate
    /// Samples are cut to this many positions (the reference's `tokenizer.model_max_length`).
    public let modelMaxLength: Int
    /// Whether text after a special token gets SentencePiece's "▁" prefix (LLaMA's legacy
    /// behaviour). The reference subtracts one more token per round after the first when it
    /// does not (`not tokenizer.legacy`).
    public let legacy: Bool

    static let imageMarker = "<image>"

    /// - Parameter legacy: nil detects the tokenizer's behaviour (see `legacy`).
    public init(tokenizer: Tokenizer, template: DataTemplate, modelMaxLength: Int, legacy: Bool? = nil) {
        precondition(modelMaxLength > 0, "modelMaxLength must be positive, got \(modelMaxLength)")
        self.tokenizer = tokenizer
        self.template = template
        self.modelMaxLength = modelMaxLength
        self.legacy = legacy ?? Self.prefixesAfterSpecialTokens(tokenizer)
    }

    public func sample(from record: DataRecord) throws -> TrainingSample {
        switch template {
        case .plain: return try plainSample(record)
        case .v1: return try v1Sample(record)
        }
    }

    /// The text a record trains on in `template`, before tokenisation: stage 1's `<image>` +
    /// caption + "\n", or stage 2's whole vicuna_v1 prompt (system prompt, `USER:` and
    /// `ASSISTANT:` turns, `</s>` after each answer), with the image marker moved to the front
    /// as training does. For training a tokenizer or a language model on the text the model
    /// will see.
    ///
    /// ```swift
    /// let text = try DataPreprocessor.renderedText(of: record, template: .v1)
    /// ```
    public static func renderedText(of record: DataRecord, template: DataTemplate) throws -> String {
        var turns = record.hasImage ? movingImageToFront(record.conversations) : record.conversations
        switch template {
        case .plain:
            guard turns.count == 2 else {
                throw DataError.unsupportedRecord(id: record.id, template: "plain",
                                                  reason: "expected 2 turns (prompt, caption), found \(turns.count)")
            }
            return (record.hasImage ? imageMarker : "") + turns[1].value + "\n"
        case .v1:
            if turns.first?.from == .gpt { turns.removeFirst() }
            if let k = DataRecord.firstOutOfTurn(turns) {
                throw DataError.unsupportedRecord(id: record.id, template: "v1", reason: "turn \(k) breaks human/gpt alternation")
            }
            return renderV1(turns)
        }
    }

    // MARK: - stage 1: plain

    /// `preprocess_plain`: the human turn is replaced by the bare image marker, so the text is
    /// `<image>` + answer + "\n"; the masked prefix is the tokenised marker (BOS and placeholder).
    private func plainSample(_ record: DataRecord) throws -> TrainingSample {
        func refuse(_ reason: String) -> DataError { .unsupportedRecord(id: record.id, template: "plain", reason: reason) }
        guard record.hasImage else { throw refuse("the record has no image") }
        let turns = Self.movingImageToFront(record.conversations)
        guard turns.count == 2 else { throw refuse("expected 2 turns (prompt, caption), found \(turns.count)") }
        guard PythonText.contains(turns[0].value, Self.imageMarker) else {
            throw refuse("the first turn has no \(Self.imageMarker) marker")
        }
        let ids = imageTokenIDs(Self.imageMarker + turns[1].value + "\n")
        var labels = ids
        let masked = min(imageTokenIDs(Self.imageMarker).count, labels.count)
        labels.replaceSubrange(0..<masked, with: repeatElement(TrainingSample.ignoreIndex, count: masked))
        return truncated(record, ids, labels)
    }

    // MARK: - stage 2: v1

    private static let system = "A chat between a curious user and an artificial intelligence assistant. "
        + "The assistant gives helpful, detailed, and polite answers to the user's questions."
    private static let roles = (user: "USER", assistant: "ASSISTANT")
    private static let sep = " ", sep2 = "</s>"

    /// `preprocess_v1`: render, tokenise, then walk the rounds (split on `</s>`) masking each
    /// instruction. The round lengths are recomputed from the rendered text, so they must add
    /// up to the whole conversation's length; if not, the masks would be misplaced.
    private func v1Sample(_ record: DataRecord) throws -> TrainingSample {
        var turns = record.hasImage ? Self.movingImageToFront(record.conversations) : record.conversations
        if turns.first?.from == .gpt { turns.removeFirst() }      // the reference skips it
        if let k = DataRecord.firstOutOfTurn(turns) {
            throw DataError.unsupportedRecord(id: record.id, template: "v1", reason: "turn \(k) breaks human/gpt alternation")
        }
        let text = Self.renderV1(turns)
        let encode = { (s: String) in record.hasImage ? self.imageTokenIDs(s) : self.tokenizer.encode(s) }
        let ids = encode(text)
        // Markers in several turns survive as several placeholders, but a record has one image.
        let placeholders = ids.filter { $0 == TrainingSample.imagePlaceholder }.count
        if record.hasImage && placeholders > 1 {
            throw DataError.unsupportedRecord(id: record.id, template: "v1",
                                              reason: "\(placeholders) turns hold \(Self.imageMarker) but the record has one image")
        }
        var labels = ids
        // BOS is not learned; `cur` walks the rounds in token positions.
        var cur = 1
        mask(&labels, 0, cur)
        let answerSep = Self.sep + Self.roles.assistant + ": "
        for (i, round) in PythonText.split(text, on: Self.sep2).enumerated() {
            if round.isEmpty { break }
            let parts = PythonText.split(round, on: answerSep)
            if parts.count != 2 { break }
            // The round's own BOS stands in for its `</s>` (not in `round`); the instruction
            // loses its BOS and the trailing "▁" that merges into the answer's first word.
            var roundLength = encode(round).count
            var instructionLength = encode(parts[0] + answerSep).count - 2
            if i != 0 && !legacy {
                roundLength -= 1
                instructionLength -= 1
            }
            mask(&labels, cur, cur + instructionLength)
            cur += roundLength
        }
        mask(&labels, cur, labels.count)

        // The reference truncates text-only samples when tokenising and counts non-pad
        // (pad = unk for v1) tokens; it checks only samples shorter than the max length.
        let counted = record.hasImage ? ids[...] : ids.prefix(modelMaxLength)
        let tokenized = counted.filter { $0 != tokenizer.unknownTokenID }.count
        if cur < modelMaxLength && cur != tokenized {
            throw DataError.tokenizationMismatch(id: record.id, rendered: cur, tokenized: tokenized)
        }
        return truncated(record, ids, labels)
    }

    /// `conv.get_prompt()` for vicuna_v1; an empty message renders as an open role, as there.
    static func renderV1(_ turns: [DataRecord.Turn]) -> String {
        var text = system + sep
        for (j, turn) in turns.enumerated() {
            let role = j % 2 == 0 ? roles.user : roles.assistant
            text += turn.value.isEmpty ? role + ":" : role + ": " + turn.value + (j % 2 == 0 ? sep : sep2)
        }
        return text
    }

    // MARK: - shared steps

    /// `preprocess_multimodal` (no `<im_start>`/`<im_end>`, no "mmtag"): every turn holding the
    /// marker loses all its markers and gets one at the front followed by "\n".
    static func movingImageToFront(_ turns: [DataRecord.Turn]) -> [DataRecord.Turn] {
        turns.map { turn in
            guard PythonText.contains(turn.value, imageMarker) else { return turn }
            let rest = PythonText.strip(PythonText.replace(turn.value, imageMarker, with: ""))
            return DataRecord.Turn(from: turn.from, value: PythonText.strip(imageMarker + "\n" + rest))
        }
    }

    /// `tokenizer_image_token`: each chunk between markers tokenised on its own, only the
    /// first chunk's BOS kept, one placeholder per marker.
    func imageTokenIDs(_ text: String) -> [Int] {
        let chunks = PythonText.split(text, on: Self.imageMarker).map { tokenizer.encode($0) }
        let offset = chunks.first?.first.map { $0 == tokenizer.bosTokenID } == true ? 1 : 0
        var ids: [Int] = offset == 1 ? [chunks[0][0]] : []
        for (k, chunk) in chunks.enumerated() {
            if k > 0 { ids.append(TrainingSample.imagePlaceholder) }
            ids += chunk.dropFirst(offset)
        }
        return ids
    }

    /// `labels[lo:hi] = -100` with Python's clipping of out-of-range and empty slices.
    private func mask(_ labels: inout [Int], _ lo: Int, _ hi: Int) {
        let a = min(max(lo, 0), labels.count), b = min(max(hi, a), labels.count)
        for k in a..<b { labels[k] = TrainingSample.ignoreIndex }
    }

    private func truncated(_ record: DataRecord, _ ids: [Int], _ labels: [Int]) -> TrainingSample {
        let n = min(ids.count, modelMaxLength)
        return TrainingSample(id: record.id, inputIDs: Array(ids[..<n]), labels: Array(labels[..<n]), imagePath: record.image)
    }

    /// True when text right after a special token is tokenised as if it began the text
    /// ("</s>a" → `</s>`, "▁a"), as LLaMA's legacy tokenizer does.
    static func prefixesAfterSpecialTokens(_ tokenizer: Tokenizer) -> Bool {
        guard let eos = tokenizer.eosTokenID, let eosText = tokenizer.token(of: eos) else { return true }
        let after = tokenizer.encode(eosText + "a", addSpecialTokens: false)
        return Array(after.dropFirst()) == tokenizer.encode("a", addSpecialTokens: false)
    }
}
