import Foundation
import Tensor

/// A detailed description that walks the image's 4×4 grid of cells in reading order and says
/// what each cell holds, the cell written as its row and column digits: "The image shows 2 objects
/// on a grey background. Cells by row and column: 12 no, 13 a small red star at the top, 21 no, 22
/// a large blue circle in the center, …". Each object is named once, in its cell, with its size,
/// colour, shape and region, so `DescriptionScore` gives it full marks.
///
/// The wording is for a small model that reads a 4×4 grid of patch tokens: what follows "22" is
/// then what one patch shows, a lookup, where a list of the objects in any order needs the model
/// to remember which it has named (the built-in model trained on such lists named an object twice
/// in more than half of its descriptions: docs/built-in-model.md). The built-in tokenizer has
/// digits, "no" and the object words as pieces, so a five-object scene takes about 120 tokens.
/// Cells that hold no object and that the grid layout always leaves empty (the corners) are
/// skipped.
///
/// ```swift
/// let text = GridDescription.describe(scene)
/// DescriptionScore(description: text, scene: scene).f1   // 1
/// ```
public enum GridDescription {
    /// Rows and columns of the walk (a patch grid of 4×4, as the built-in CLIP's 64 px / 16).
    public static let cells = 4

    public static func describe(_ scene: Scene) -> String {
        let n = scene.objects.count
        let intro = "The image shows \(n) \(n == 1 ? "object" : "objects") on a \(scene.background.rawValue) background."
        var byCell: [[[SceneObject]]] = Array(repeating: Array(repeating: [], count: cells), count: cells)
        for o in scene.objects {
            let p = scene.normalisedCentre(o)
            byCell[Phrasing.quarter(p.y) - 1][Phrasing.quarter(p.x) - 1].append(o)
        }
        var parts: [String] = []
        for row in 0..<cells {
            for column in 0..<cells {
                let here = byCell[row][column].sorted { $0.centre.x < $1.centre.x }
                if here.isEmpty && isCorner(row, column) { continue }
                let named = here.map { o in
                    "\(Vocabulary.article(for: o.size.rawValue)) \(o.size.rawValue) \(o.colour.rawValue) \(o.shape.rawValue) "
                        + Region(normalised: scene.normalisedCentre(o)).phrase
                }
                parts.append("\(row + 1)\(column + 1) " + (here.isEmpty ? "no" : named.joined(separator: " and ")))
            }
        }
        return intro + " " + walkMarker + " " + parts.joined(separator: ", ") + "."
    }

    /// The words that start the walk, after the count: a conversation that holds them already has a description.
    public static let walkMarker = "Cells by row and column:"

    static func isCorner(_ row: Int, _ column: Int) -> Bool {
        (row == 0 || row == cells - 1) && (column == 0 || column == cells - 1)
    }

    /// Requests for the description: the instruction data's detail requests and the one `llava
    /// eval synth --task describe` asks by default.
    public static let requests = InstructionDataBuilder.detailRequests + ["Describe the image in detail."]

    /// One single-turn record per scene, in id order (`<imagePrefix><id>.png`), its request drawn
    /// with `seed`.
    public static func records(scenes: [String: Scene], imagePrefix: String, seed: UInt64) -> [LLaVARecord] {
        ShortAnswerVQA.orderedIDs(scenes).enumerated().map { index, id in
            var rng = SplitMix64(seed: deriveSeed(seed, UInt64(index), 11))
            let request = rng.pick(requests)
            let turns = [LLaVATurn(from: "human", value: "<image>\n" + request), LLaVATurn(from: "gpt", value: describe(scenes[id]!))]
            return LLaVARecord(id: "describe-\(imagePrefix)\(id)", image: "\(imagePrefix)\(id).png", conversations: turns)
        }
    }
}

extension GridDescription {
    /// `record` (one image's conversation of at least one question, short-answer as
    /// `ShortAnswerVQA.record` writes it or free-form) with a description request and its grid
    /// walk put in as a later turn: after 1 to all of its questions but never between a question
    /// and its follow-up, the place and the request drawn from `seed` and `index` (the record's
    /// place in id order). The request carries neither the
    /// image nor the short-answer instruction, as a user of `llava chat` would type it; questions
    /// after it are asked as before. A model that has only seen descriptions as a conversation's
    /// first turn garbles one asked later (docs/built-in-model.md).
    public static func insertingDescription(into record: LLaVARecord, scene: Scene, index: Int, seed: UInt64) -> LLaVARecord {
        let turns = record.conversations
        guard turns.count >= 2 else { return record }
        var rng = SplitMix64(seed: deriveSeed(seed, UInt64(index), 13))
        // Never between a question and its follow-up: "And what color is it?" refers to the turn before.
        let places = (1...turns.count / 2).filter { after in
            2 * after >= turns.count || !FollowUpConversations.isFollowUp(turns[2 * after].value)
        }
        let after = rng.pick(places)
        let request = rng.pick(requests)
        var described = record
        described.conversations.insert(contentsOf: [LLaVATurn(from: "human", value: request), LLaVATurn(from: "gpt", value: describe(scene))],
                                       at: 2 * after)
        return described
    }
}
