import DataGeneration
import Foundation
import XCTest

final class ShortAnswerVQATests: XCTestCase {
    private func scenes(_ n: Int, layout: SceneLayout = .free) throws -> [String: Scene] {
        var configuration = WorldConfiguration()
        configuration.layout = layout
        let world = try WorldGenerator(configuration: configuration)
        return Dictionary(uniqueKeysWithValues: (1...n).map { (String($0), world.scene(seed: UInt64($0))) })
    }

    /// Every record is LLaVA-1.5's short-answer form, and the answers that can be checked
    /// directly against the scene (counts of all objects, existence, colour of a shape) are right.
    func testRecordsAreShortAnswerConversationsWithTrueAnswers() throws {
        let scenes = try scenes(40)
        let records = ShortAnswerVQA.records(scenes: scenes, imagePrefix: "train/", questionsPerImage: 8, seed: 3)
        XCTAssertEqual(records.count, 40)
        XCTAssertEqual(records.map(\.image), (1...40).map { "train/\($0).png" })
        var checked = 0
        for record in records {
            let scene = scenes[String(record.image!.dropFirst(6).dropLast(4))]!
            let turns = record.conversations
            XCTAssertGreaterThan(turns.count, 0)
            XCTAssertLessThanOrEqual(turns.count, 16)
            XCTAssertTrue(turns[0].value.hasPrefix("<image>\n"))
            XCTAssertEqual(turns.filter { $0.value.contains("<image>") }.count, 1)
            var asked = Set<String>()
            for pair in stride(from: 0, to: turns.count, by: 2) {
                let (human, gpt) = (turns[pair], turns[pair + 1])
                XCTAssertEqual([human.from, gpt.from], ["human", "gpt"])
                XCTAssertTrue(human.value.hasSuffix("\n" + ShortAnswerVQA.instruction), human.value)
                XCTAssertFalse(gpt.value.contains(" "), "not one word: \(gpt.value)")
                let question = human.value.replacingOccurrences(of: "<image>\n", with: "")
                    .replacingOccurrences(of: "\n" + ShortAnswerVQA.instruction, with: "")
                XCTAssertTrue(asked.insert(question).inserted, "asked twice: \(question)")
                if question == "How many objects are there?" {
                    XCTAssertEqual(gpt.value, String(scene.objects.count)); checked += 1
                } else if let kind = match(question, #"^Is there an? (\w+) (\w+) in the image\?$"#) {
                    let present = scene.objects.contains { $0.colour.rawValue == kind[0] && $0.shape.rawValue == kind[1] }
                    XCTAssertEqual(gpt.value, present ? "yes" : "no", question); checked += 1
                } else if let shape = match(question, #"^What color is the (\w+)\?$"#) {
                    let colours = Set(scene.objects.filter { $0.shape.rawValue == shape[0] }.map(\.colour.rawValue))
                    XCTAssertEqual(colours, [gpt.value], question); checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 80)
    }

    /// Questions are spread over the types: across 30 scenes with room for eight each, all six
    /// types are asked.
    func testEveryTypeIsAsked() throws {
        let records = ShortAnswerVQA.records(scenes: try scenes(30), imagePrefix: "val/", questionsPerImage: 8, seed: 1)
        let questions = records.flatMap { r in stride(from: 0, to: r.conversations.count, by: 2).map { r.conversations[$0].value } }
        XCTAssertTrue(questions.contains { $0.contains("What shape") })
        XCTAssertTrue(questions.contains { $0.contains("What color") })
        XCTAssertTrue(questions.contains { $0.contains("How many") })
        XCTAssertTrue(questions.contains { $0.contains("Where is") })
        XCTAssertTrue(questions.contains { $0.contains(" of the ") || $0.contains(" above the ") || $0.contains(" below the ") })
        XCTAssertTrue(questions.contains { $0.contains("Is there") })
    }

    /// Object-first answers: the same questions in the same order; colour and shape answers become
    /// the object asked about followed by the answer word, checked against the scene; the other
    /// types keep the word; and the evaluation's scorer counts every object-first answer as the
    /// word it leads to.
    /// `object-first-position` also leads position answers with the shape asked about, and
    /// `object-first-relation` writes each relation answer after the two objects' quarters of the
    /// image on the asked axis, which decide it.
    func testObjectFirstAnswersLeadWithTheObjectAskedAbout() throws {
        let kinds = ["colour", "colours", "shape", "shapes"]
        XCTAssertEqual(try objectFirstChanges(.objectFirst), Set(kinds))
        XCTAssertEqual(try objectFirstChanges(.objectFirstPosition), Set(kinds + ["position"]))
        // On the grid (one object per cell) the two quarters always differ and decide the answer.
        for layout in [SceneLayout.free, .grid] {
            XCTAssertEqual(try objectFirstChanges(.objectFirstRelation, layout: layout), Set(kinds + ["position", "relation"]))
        }
    }

    private func objectFirstChanges(_ style: ShortAnswerStyle, layout: SceneLayout = .free) throws -> Set<String> {
        let scenes = try scenes(40, layout: layout)
        let words = ShortAnswerVQA.records(scenes: scenes, imagePrefix: "train/", questionsPerImage: 8, seed: 3)
        let objectFirst = ShortAnswerVQA.records(scenes: scenes, imagePrefix: "train/", questionsPerImage: 8, seed: 3,
                                                 style: style)
        var changed = Set<String>()
        for (w, o) in zip(words, objectFirst) {
            let scene = scenes[String(w.image!.dropFirst(6).dropLast(4))]!
            XCTAssertEqual(w.conversations.count, o.conversations.count)
            for pair in stride(from: 0, to: w.conversations.count, by: 2) {
                let question = w.conversations[pair].value
                XCTAssertEqual(question, o.conversations[pair].value)
                let (word, phrase) = (w.conversations[pair + 1].value, o.conversations[pair + 1].value)
                let asked = question.replacingOccurrences(of: "<image>\n", with: "")
                    .replacingOccurrences(of: "\n" + ShortAnswerVQA.instruction, with: "")
                if let shape = match(asked, #"^What color is the (\w+)\?$"#) {
                    XCTAssertEqual(phrase, "\(shape[0]) \(word)"); changed.insert("colour")
                    XCTAssertTrue(scene.objects.contains { $0.shape.rawValue == shape[0] && $0.colour.rawValue == word })
                } else if let shapes = match(asked, #"^What color are the (\w+)\?$"#) {
                    XCTAssertEqual(phrase, "\(shapes[0]) \(word)"); changed.insert("colours")
                } else if let colour = match(asked, #"^What shape is the (\w+) object\?$"#) {
                    XCTAssertEqual(phrase, "\(colour[0]) \(word)"); changed.insert("shape")
                    XCTAssertTrue(scene.objects.contains { $0.colour.rawValue == colour[0] && $0.shape.rawValue == word })
                } else if let colour = match(asked, #"^What shape are the (\w+) objects\?$"#) {
                    XCTAssertEqual(phrase, "\(colour[0]) \(Shape(rawValue: word)!.plural)"); changed.insert("shapes")
                } else if style == .objectFirstRelation,
                          let r = match(asked, #"^Is the (\w+) (\w+) (to the left of|to the right of|above|below) the (\w+) (\w+)\?$"#) {
                    // "star 1 circle 3 yes": each shape, then its quarter on the asked axis.
                    let steps = phrase.split(separator: " ").map(String.init)
                    XCTAssertEqual(steps.count, 5, phrase)
                    XCTAssertEqual([steps[0], steps[2], steps[4]], [r[1], r[4], word], phrase)
                    let (qa, qb) = (Int(steps[1])!, Int(steps[3])!)
                    let relation = Relation(rawValue: r[2])!
                    let kindA = ObjectKind(colour: ObjectColour(rawValue: r[0])!, shape: Shape(rawValue: r[1])!)
                    let kindB = ObjectKind(colour: ObjectColour(rawValue: r[3])!, shape: Shape(rawValue: r[4])!)
                    let (a, b) = (scene.objects.first { $0.kind == kindA }!, scene.objects.first { $0.kind == kindB }!)
                    let axis = relation.isHorizontal ? (a.centre.x, b.centre.x) : (a.centre.y, b.centre.y)
                    XCTAssertEqual([qa, qb], [axis.0, axis.1].map { Int($0 / Double(scene.size) * 4) + 1 }, phrase)
                    let holds = relation == .leftOf || relation == .above ? qa < qb : qa > qb
                    if layout == .grid { XCTAssertNotEqual(qa, qb, phrase) }
                    if qa != qb { XCTAssertEqual(word, holds ? "yes" : "no", asked) }
                    XCTAssertTrue(EvalQuestions.isCorrect(prediction: phrase, answer: word, type: .relation), phrase)
                    changed.insert("relation")
                } else if style != .objectFirst, let kind = match(asked, #"^Where is the (\w+) (\w+) in the image\?$"#) {
                    XCTAssertEqual(phrase, "\(kind[1]) \(word)"); changed.insert("position")
                    XCTAssertTrue(EvalQuestions.isCorrect(prediction: phrase, answer: word, type: .position), phrase)
                } else {
                    XCTAssertEqual(phrase, word, asked)
                }
                if asked.hasPrefix("What color") {
                    XCTAssertTrue(EvalQuestions.isCorrect(prediction: phrase, answer: word, type: .colour), phrase)
                } else if asked.hasPrefix("What shape") {
                    XCTAssertTrue(EvalQuestions.isCorrect(prediction: phrase, answer: word, type: .shape), phrase)
                }
            }
        }
        return changed
    }

    func testSeededAndDeterministic() throws {
        let s = try scenes(10)
        let a = ShortAnswerVQA.records(scenes: s, imagePrefix: "train/", questionsPerImage: 5, seed: 7)
        XCTAssertEqual(a, ShortAnswerVQA.records(scenes: s, imagePrefix: "train/", questionsPerImage: 5, seed: 7))
        XCTAssertNotEqual(a, ShortAnswerVQA.records(scenes: s, imagePrefix: "train/", questionsPerImage: 5, seed: 8))
        XCTAssertTrue(a.allSatisfy { $0.conversations.count <= 10 })
    }

    func testMalformedFilesNameTheFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("scenes-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(#"[{"id": 1}]"#.utf8).write(to: url)
        for read in [{ _ = try ShortAnswerVQA.readScenes(from: url) }, { _ = try LLaVARecord.read(from: url) }] {
            XCTAssertThrowsError(try read()) { error in
                guard case DataGenerationError.malformedFile(let file, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(file, url.path)
            }
        }
    }

    /// The shared-shape position records ask, one record each, where every object alone of its
    /// kind is when another colour has its shape, and nothing else: in a hand-made scene (red
    /// star, blue star, two green circles, a white circle, a yellow square) exactly the two stars
    /// and the white circle, each with its region in the style asked for.
    func testSharedShapePositionRecords() throws {
        func object(_ shape: String, _ colour: String, _ x: Double, _ y: Double) -> String {
            #"{"shape":"\#(shape)","colour":"\#(colour)","size":"small","radius":5,"centre":{"x":\#(x),"y":\#(y)},"#
                + #""box":{"x1":\#(x - 5),"y1":\#(y - 5),"x2":\#(x + 5),"y2":\#(y + 5)},"visibleFraction":1}"#
        }
        let json = #"{"size":64,"background":"slate","textureSeed":1,"objects":["#
            + [object("star", "red", 8, 32), object("star", "blue", 56, 32), object("circle", "green", 32, 8),
               object("circle", "green", 32, 56), object("circle", "white", 32, 32), object("square", "yellow", 8, 8)]
            .joined(separator: ",") + "]}"
        let scene = try JSONDecoder().decode(Scene.self, from: Data(json.utf8))
        let records = ShortAnswerVQA.sharedShapePositionRecords(scenes: ["7": scene], imagePrefix: "train/", style: .objectFirstPosition)
        XCTAssertEqual(records.map(\.id), ["vqa-shared-train/7-red-star", "vqa-shared-train/7-blue-star", "vqa-shared-train/7-white-circle"])
        XCTAssertEqual(records.map { $0.conversations.map(\.value) }, [
            ["<image>\nWhere is the red star in the image?\n" + ShortAnswerVQA.instruction, "star left"],
            ["<image>\nWhere is the blue star in the image?\n" + ShortAnswerVQA.instruction, "star right"],
            ["<image>\nWhere is the white circle in the image?\n" + ShortAnswerVQA.instruction, "circle center"],
        ])
        XCTAssertEqual(records.map(\.image), Array(repeating: "train/7.png", count: 3))
        let words = ShortAnswerVQA.sharedShapePositionRecords(scenes: ["7": scene], imagePrefix: "train/", style: .word)
        XCTAssertEqual(words.map { $0.conversations[1].value }, ["left", "right", "center"])

        // Over generated scenes: every record's object is alone of its kind and shares its shape with another colour.
        let generated = try scenes(60, layout: .grid)
        let all = ShortAnswerVQA.sharedShapePositionRecords(scenes: generated, imagePrefix: "train/", style: .word)
        XCTAssertGreaterThan(all.count, 20)
        for record in all {
            let scene = generated[String(record.image!.dropFirst(6).dropLast(4))]!
            let kind = try XCTUnwrap(match(record.conversations[0].value, #"Where is the (\w+) (\w+) in the image"#))
            XCTAssertEqual(scene.objects.filter { $0.colour.rawValue == kind[0] && $0.shape.rawValue == kind[1] }.count, 1, record.id)
            XCTAssertTrue(scene.objects.contains { $0.shape.rawValue == kind[1] && $0.colour.rawValue != kind[0] }, record.id)
        }
    }

    /// The scene in words lists every object once, in reading order of a 4×4 grid, with the
    /// region the evaluation uses; a record's text document keeps its questions and answers.
    func testSceneInWordsAndTextDocuments() throws {
        func object(_ shape: String, _ colour: String, _ size: String, _ x: Double, _ y: Double) -> String {
            #"{"shape":"\#(shape)","colour":"\#(colour)","size":"\#(size)","radius":5,"centre":{"x":\#(x),"y":\#(y)},"#
                + #""box":{"x1":\#(x - 5),"y1":\#(y - 5),"x2":\#(x + 5),"y2":\#(y + 5)},"visibleFraction":1}"#
        }
        // Drawn out of order: bottom right, top left, centre, then the row-1 object further left.
        let json = #"{"size":64,"background":"slate","textureSeed":1,"objects":["#
            + [object("star", "red", "small", 56, 56), object("circle", "blue", "large", 20, 6),
               object("square", "green", "small", 36, 30), object("cross", "white", "large", 8, 24)].joined(separator: ",") + "]}"
        let scene = try JSONDecoder().decode(Scene.self, from: Data(json.utf8))
        XCTAssertEqual(ShortAnswerVQA.sceneInWords(scene),
                       "A large blue circle at the top, a large white cross on the left, a small green square in the center, "
                       + "a small red star on the right.")

        XCTAssertEqual(ShortAnswerVQA.sceneInWords(scene, regions: false),
                       "A large blue circle, a large white cross, a small green square, a small red star.")

        let scenes = try scenes(12)
        let sets = ShortAnswerVQA.questionSets(scenes: scenes, questionsPerImage: 6, seed: 5)
        let records = ShortAnswerVQA.records(scenes: scenes, imagePrefix: "train/", questionsPerImage: 6, seed: 5)
        XCTAssertEqual(sets.map { ShortAnswerVQA.record($0, imagePrefix: "train/", style: .word) }, records)
        let documents = ShortAnswerVQA.textDocuments(sets, scenes: scenes, imagePrefix: "train/", style: .word)
        XCTAssertEqual(documents.count, records.count)
        for (record, document) in zip(records, documents) {
            let scene = scenes[String(record.image!.dropFirst(6).dropLast(4))]!
            XCTAssertTrue(document.hasPrefix("USER: " + ShortAnswerVQA.sceneInWords(scene) + " "), document)
            XCTAssertFalse(document.contains("<image>") || document.contains("\n"), document)
            XCTAssertEqual(document, "USER: " + ShortAnswerVQA.sceneInWords(scene) + " " + expectedTurns(record.conversations).dropFirst(6), record.id)
        }
    }

    /// With follow-ups, the drawn questions are the same and in the same order; each follow-up
    /// comes right after the question it follows, and its answer (as a word and object-first) is
    /// the scene's: the colour of the one object of the counted shape, the region of the one
    /// object of the asked colour.
    func testFollowUpsComeRightAfterTheirQuestionWithTheSceneAnswer() throws {
        let scenes = try scenes(40)
        let plain = ShortAnswerVQA.questionSets(scenes: scenes, questionsPerImage: 8, seed: 4)
        let withFollowUps = ShortAnswerVQA.questionSets(scenes: scenes, questionsPerImage: 8, seed: 4, followUps: true)
        XCTAssertEqual(plain.map(\.id), withFollowUps.map(\.id))
        var added = [QuestionType: Int]()
        for (p, f) in zip(plain, withFollowUps) {
            let scene = scenes[f.id]!
            XCTAssertEqual(f.questions.filter { !$0.question.hasPrefix("And ") }, p.questions, f.id)
            for (i, q) in f.questions.enumerated() where q.question.hasPrefix("And ") {
                let before = f.questions[i - 1].question
                added[q.type, default: 0] += 1
                if q.question == FollowUpConversations.colourFollowUp {
                    let shape = try XCTUnwrap(match(before, #"^How many (\w+) are there\?$"#))[0]
                    let objects = scene.objects.filter { $0.shape.plural == shape }
                    XCTAssertEqual(objects.count, 1, before)
                    XCTAssertEqual(q.shortAnswer(.word), objects[0].colour.rawValue)
                    XCTAssertEqual(q.shortAnswer(.objectFirst), "\(objects[0].shape.rawValue) \(objects[0].colour.rawValue)")
                } else {
                    XCTAssertEqual(q.question, FollowUpConversations.positionFollowUp)
                    let colour = try XCTUnwrap(match(before, #"^What shape is the (\w+) object\?$"#))[0]
                    let objects = scene.objects.filter { $0.colour.rawValue == colour }
                    XCTAssertEqual(objects.count, 1, before)
                    let region = Region(normalised: scene.normalisedCentre(objects[0])).rawValue
                    XCTAssertEqual(q.shortAnswer(.word), region)
                    XCTAssertEqual(q.shortAnswer(.objectFirstPosition), "\(objects[0].shape.rawValue) \(region)")
                }
            }
        }
        XCTAssertGreaterThan(added[.colour] ?? 0, 5)
        XCTAssertGreaterThan(added[.position] ?? 0, 5)
    }

    /// With free-form follow-ups, a follow-up and the question before it go as written with their
    /// sentences, the follow-up's naming the object of the turn before; every other turn is as
    /// without.
    func testFreeFormFollowUps() throws {
        let scenes = try scenes(40)
        var free = 0
        for set in ShortAnswerVQA.questionSets(scenes: scenes, questionsPerImage: 8, seed: 4, followUps: true) {
            let short = ShortAnswerVQA.record(set, imagePrefix: "train/", style: .objectFirstRelation).conversations
            let sentences = ShortAnswerVQA.record(set, imagePrefix: "train/", style: .objectFirstRelation, freeFormFollowUps: true).conversations
            XCTAssertEqual(short.count, sentences.count)
            for (n, q) in set.questions.enumerated() {
                let pair = q.question.hasPrefix("And ") || (n + 1 < set.questions.count && set.questions[n + 1].question.hasPrefix("And "))
                let (asked, answered) = (sentences[2 * n].value, sentences[2 * n + 1].value)
                guard pair else {
                    XCTAssertEqual([asked, answered], [short[2 * n].value, short[2 * n + 1].value])
                    continue
                }
                free += 1
                XCTAssertEqual(asked, (n == 0 ? "<image>\n" : "") + q.question)
                XCTAssertEqual(answered, q.answer)
                if q.question == FollowUpConversations.colourFollowUp {
                    let plural = try XCTUnwrap(match(set.questions[n - 1].question, #"^How many (\w+) are there\?$"#))[0]
                    let shape = try XCTUnwrap(scenes[set.id]!.objects.first { $0.shape.plural == plural }).shape.rawValue
                    XCTAssertEqual(sentences[2 * n - 1].value, "There is 1 \(shape).")
                    XCTAssertEqual(answered, "The \(shape) is \(q.shortAnswer(.word)).")
                } else if q.question == FollowUpConversations.positionFollowUp {
                    XCTAssertTrue(answered.hasSuffix(" of the image.") && answered.hasPrefix("The "), answered)
                    XCTAssertTrue(answered.contains(q.shortAnswer(.word)), answered)
                }
            }
        }
        XCTAssertGreaterThan(free, 20)
    }

    /// Without place, the text keeps every other question in order, and no word of it says where
    /// anything is.
    func testTextDocumentsWithoutPlace() throws {
        let scenes = try scenes(40)
        let sets = ShortAnswerVQA.questionSets(scenes: scenes, questionsPerImage: 8, seed: 2)
        let documents = ShortAnswerVQA.textDocuments(sets, scenes: scenes, imagePrefix: "train/", style: .objectFirstPosition, place: false)
        let placeless = sets.compactMap { set -> (QuestionSet, Scene)? in
            let kept = set.questions.filter { $0.type != .position && $0.type != .relation }
            return kept.isEmpty ? nil : (QuestionSet(id: set.id, questions: kept), scenes[set.id]!)
        }
        XCTAssertEqual(documents.count, placeless.count)
        XCTAssertLessThan(placeless.map(\.0.questions.count).reduce(0, +), sets.map(\.questions.count).reduce(0, +))
        let placeWords = Region.allCases.map(\.phrase) + Region.allCases.map(\.rawValue) + Relation.allCases.map(\.rawValue) + ["Where"]
        for ((set, scene), document) in zip(placeless, documents) {
            let record = ShortAnswerVQA.record(set, imagePrefix: "train/", style: .objectFirstPosition)
            XCTAssertEqual(document, "USER: " + ShortAnswerVQA.sceneInWords(scene, regions: false) + " "
                           + expectedTurns(record.conversations).dropFirst(6), set.id)
            for word in placeWords { XCTAssertFalse(document.contains(word), "\(word) in \(document)") }
        }
    }

    /// The turns as "USER: q ASSISTANT: a ..." without the image, line breaks as spaces.
    private func expectedTurns(_ turns: [LLaVATurn]) -> String {
        stride(from: 0, to: turns.count, by: 2).map { i in
            "USER: " + turns[i].value.replacingOccurrences(of: "<image>\n", with: "").replacingOccurrences(of: "\n", with: " ")
                + " ASSISTANT: " + turns[i + 1].value
        }.joined(separator: " ")
    }

    private func match(_ text: String, _ pattern: String) -> [String]? {
        let regex = try! NSRegularExpression(pattern: pattern)
        guard let m = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) else { return nil }
        return (1..<m.numberOfRanges).map { String(text[Range(m.range(at: $0), in: text)!]) }
    }
}
