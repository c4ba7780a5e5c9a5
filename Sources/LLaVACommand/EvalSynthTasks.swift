import ArgumentParser
import DataGeneration
import Evaluation
import Foundation

// `llava eval synth --task describe` and `--task follow-up`: questions made from the scenes of
// the question file's images rather than read from it.
extension SynthEval {
    /// The question file's images (this chunk's), each once, in the file's order.
    private func images() throws -> [String] {
        var seen = Set<String>()
        return try eval.questions().compactMap(\.image).filter { seen.insert($0).inserted }
    }

    private func item(_ id: String, _ image: String, _ text: String, history: [PriorTurn] = []) -> BenchmarkItem {
        BenchmarkItem(id: id, image: .file(URL(fileURLWithPath: eval.imageFolder).appendingPathComponent(image)),
                      text: text, history: history)
    }

    /// With `describeAfter` > 0 the description is asked as a later turn: each image's first
    /// questions of the question file are asked first, one turn at a time, each after the model's
    /// own earlier answers, as in `llava chat`.
    func describeReport(_ scenes: [String: Scene]) async throws -> SynthReport {
        let images = try images()
        let ask = { (text: String) in shortAnswer ? text + "\n" + ShortAnswerVQA.instruction : text }
        let questionsByImage = Dictionary(grouping: try eval.questions(), by: { $0.image ?? "" })
        let prefix = describeAfter == 0 ? "describe" : "describe-after-\(describeAfter)"
        // Every id this report asks, so a resumed run's early turns keep the later answers on file.
        let everyID = Set(images.flatMap { image in
            (0..<min(describeAfter, questionsByImage[image]?.count ?? 0)).map { "\(prefix)/\(image)/\($0 + 1)" } + ["\(prefix)/\(image)"]
        })
        var history: [String: [PriorTurn]] = [:]
        var asked: [BenchmarkItem] = []
        for turn in 0..<describeAfter {
            let turns = images.compactMap { image -> (image: String, item: BenchmarkItem)? in
                guard let questions = questionsByImage[image], turn < questions.count else { return nil }
                return (image, item("\(prefix)/\(image)/\(turn + 1)", image, ask(questions[turn].text), history: history[image] ?? []))
            }
            asked += turns.map(\.item)
            // With an answers file, each run lists the earlier runs' items too, so the file keeps them.
            let answers = try await eval.answer(eval.answersFile == nil ? turns.map(\.item) : asked, keeping: everyID)
            for (image, item) in turns {
                history[image, default: []].append(PriorTurn(user: item.text, assistant: answers[item.id] ?? ""))
            }
        }
        // A grid-walk description of five objects takes about 120 tokens.
        let requests = images.map { item("\(prefix)/\($0)", $0, describePrompt, history: history[$0] ?? []) }
        let answers = try await eval.answer(eval.answersFile == nil ? requests : asked + requests, defaultMaxNewTokens: 160)
        var totals = DescriptionTotals()
        for image in images {
            totals.add(DescriptionScore(description: answers["\(prefix)/\(image)"] ?? "", scene: scenes[UnboundBaseline.sceneID(ofImage: image)]!))
        }
        var report = SynthReport()
        report.description = totals
        return report
    }

    /// Turn one and the direct questions first, then the follow-ups after the model's own first answers.
    func followUpReport(_ scenes: [String: Scene]) async throws -> SynthReport {
        let ask = { (text: String) in shortAnswer ? text + "\n" + ShortAnswerVQA.instruction : text }
        let conversations = try images().flatMap { image in
            let id = UnboundBaseline.sceneID(ofImage: image)
            return FollowUpConversations.conversations(for: scenes[id]!, sceneID: id, image: image)
        }
        let single = conversations.flatMap { c in
            [item("\(c.id)/1", c.image, ask(c.first)), item("\(c.id)/direct", c.image, ask(c.direct))]
        }
        var answers = try await eval.answer(single, keeping: Set(conversations.map { "\($0.id)/2" }))
        let followUps = conversations.map { c in
            item("\(c.id)/2", c.image, ask(c.followUp), history: [PriorTurn(user: ask(c.first), assistant: answers["\(c.id)/1"] ?? "")])
        }
        // With an answers file, the second run lists the first run's items too, so the file keeps them.
        for (k, v) in try await eval.answer(eval.answersFile == nil ? followUps : single + followUps) { answers[k] = v }
        var totals = FollowUpTotals()
        for c in conversations {
            totals.add(c, first: answers["\(c.id)/1"] ?? "", followUp: answers["\(c.id)/2"] ?? "", direct: answers["\(c.id)/direct"] ?? "")
        }
        var report = SynthReport()
        report.followUp = totals
        return report
    }
}
