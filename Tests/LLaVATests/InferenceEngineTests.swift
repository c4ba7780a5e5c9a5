import Foundation
import LLaVA
import Language
import TestSupport
import Vision
import XCTest

/// The continuous-batching engine answers each request exactly as a one-shot run would,
/// alone or among others, and frees a cancelled request's slot.
final class InferenceEngineTests: XCTestCase {
    func model(_ name: String = "llava/hf-mlp2x-default") throws -> LLaVAModel { try LLaVAModel(directory: Fixtures.url(name)) }
    func image(_ name: String) throws -> RGBImage { try ImageDecoder.decode(contentsOf: Fixtures.url("images/\(name)")) }

    /// Runs a request to its end; returns the streamed text and the summary.
    func answer(_ engine: InferenceEngine, _ request: CompletionRequest) async throws -> (String, CompletionSummary) {
        var text = "", summary: CompletionSummary?
        for try await event in try engine.submit(request) {
            switch event {
            case .text(let piece): text += piece
            case .finished(let s): summary = s
            case .started: break
            }
        }
        return (text, try XCTUnwrap(summary))
    }

    func question(_ k: Int, images: [RGBImage]) -> CompletionRequest {
        let prompts = ["What is in the image?", "Describe it.", "What colour is it?", "Is there a cat?"]
        return CompletionRequest(messages: [ChatMessage(role: .user, text: prompts[k % prompts.count], images: k % 3 == 2 ? [] : images)],
                                 parameters: GenerationParameters(maxNewTokens: 6 + k,
                                                                  sampling: SamplingParameters(temperature: k % 2 == 0 ? 0 : 0.9, seed: UInt64(k))))
    }

    func testAloneEqualsTheOneShotRun() async throws {
        let m = try model()
        let photo = try image("photo_500x333.jpg")
        let engine = InferenceEngine(model: m, parallel: 2)
        let request = question(0, images: [photo])
        let (text, summary) = try await answer(engine, request)
        var c = Conversation(template: engine.template)
        c.append(user: "<image>\nWhat is in the image?")
        var p = request.parameters
        if let stop = engine.template.stopString { p.stopStrings.append(stop) }
        let reference = try m.generate(prompt: c.prompt, images: [photo], parameters: p)
        XCTAssertEqual(summary.tokenIDs, reference.tokenIDs)
        XCTAssertEqual(text, reference.text)
        XCTAssertEqual(summary.text, reference.text)
        XCTAssertEqual(summary.promptTokens, reference.promptTokenCount)
        XCTAssertEqual(summary.finishReason, reference.finishReason)
        await engine.shutdown()
    }

    /// Eight requests at once (greedy and seeded sampling, with and without images) get the
    /// tokens each gets alone, on both checkpoint layouts.
    func testEightTogetherEqualEachAlone() async throws {
        for name in ["llava/hf-mlp2x-default", "llava/orig-mlp2x"] {
            let m = name.hasPrefix("llava/orig")
                ? try LLaVAModel(directory: Fixtures.url(name), visionTower: Fixtures.url(name + "-clip")) : try model(name)
            let photo = try image("photo_500x333.jpg"), gray = try image("gray.png")
            let alone = InferenceEngine(model: m, parallel: 1)
            var expected: [[Int]] = []
            for k in 0..<8 { expected.append(try await answer(alone, question(k, images: [k % 2 == 0 ? photo : gray])).1.tokenIDs) }
            await alone.shutdown()

            let together = InferenceEngine(model: m, parallel: 8)
            let results = try await withThrowingTaskGroup(of: (Int, [Int]).self) { group in
                for k in 0..<8 {
                    group.addTask { (k, try await self.answer(together, self.question(k, images: [k % 2 == 0 ? photo : gray])).1.tokenIDs) }
                }
                var out = [[Int]](repeating: [], count: 8)
                for try await (k, ids) in group { out[k] = ids }
                return out
            }
            XCTAssertEqual(results, expected, name)
            await together.shutdown()
        }
    }

    func testAbandonedStreamFreesItsSlot() async throws {
        let engine = InferenceEngine(model: try model(), parallel: 1)
        var request = question(0, images: [])
        request.parameters.maxNewTokens = 10_000
        request.parameters.stopTokenIDs = []
        for try await event in try engine.submit(request) {
            if case .text = event { break }
        }
        // The slot is freed at the next step boundary; a second request then runs.
        let (_, summary) = try await answer(engine, question(1, images: []))
        XCTAssertGreaterThan(summary.completionTokens, 0)
        // The loop counts its slots after the step that finished the answer: wait for that step.
        let deadline = Date().addingTimeInterval(2)
        while engine.status.active != 0 && Date() < deadline { try await Task.sleep(nanoseconds: 1_000_000) }
        XCTAssertEqual(engine.status.active, 0)
        await engine.shutdown()
    }

    func testBadRequestsAreRefusedBeforeQueueing() throws {
        let engine = InferenceEngine(model: try model(), parallel: 1, context: 40)
        let long = CompletionRequest(messages: [ChatMessage(role: .user, text: String(repeating: "word ", count: 200))],
                                     parameters: GenerationParameters())
        XCTAssertThrowsError(try engine.submit(long)) { error in
            guard case EngineError.contextLengthExceeded(_, _, 40)? = error as? EngineError else { return XCTFail("\(error)") }
        }
        let order = CompletionRequest(messages: [ChatMessage(role: .assistant, text: "hi")], parameters: GenerationParameters())
        XCTAssertThrowsError(try engine.submit(order)) { error in
            XCTAssertEqual(error as? EngineError, .invalidRequest(parameter: "messages[0].role",
                reason: "expected 'user', found 'assistant' (after any system messages, turns alternate user, assistant, …)"))
        }
        engine.stopAccepting()
        XCTAssertThrowsError(try engine.submit(question(0, images: []))) { XCTAssertEqual($0 as? EngineError, .shuttingDown) }
    }
}
