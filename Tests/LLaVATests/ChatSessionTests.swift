import Foundation
import LLaVA
import Language
import TestSupport
import Vision
import XCTest

/// The chat session reuses its KV cache across turns and still answers exactly as a fresh
/// one-shot run on the whole rendered conversation would.
final class ChatSessionTests: XCTestCase {
    func model() throws -> LLaVAModel { try LLaVAModel(directory: Fixtures.url("llava/hf-mlp2x-default")) }
    func image(_ name: String) throws -> RGBImage { try ImageDecoder.decode(contentsOf: Fixtures.url("images/\(name)")) }

    func testSecondTurnEqualsAFreshRunOnTheWholeConversation() throws {
        let m = try model()
        let photo = try image("photo_500x333.jpg"), gray = try image("gray.png")
        let parameters = GenerationParameters(maxNewTokens: 10)
        let session = ChatSession(model: m, parameters: parameters)
        let first = try session.respond("What is in the image?", images: [photo])
        let second = try session.respond("And in this one?", images: [gray])

        var c = Conversation(template: session.template)
        c.append(user: "<image>\nWhat is in the image?")
        c.append(assistant: first.text.trimmingCharacters(in: .whitespacesAndNewlines))
        c.append(user: "<image>\nAnd in this one?")
        let fresh = try m.generate(prompt: c.prompt, images: [photo, gray], parameters: parameters)
        XCTAssertEqual(second.tokenIDs, fresh.tokenIDs)
        // Only the new turn ran: far fewer positions than the whole conversation.
        XCTAssertLessThan(second.promptTokenCount, fresh.promptTokenCount)
        XCTAssertGreaterThanOrEqual(second.promptTokenCount, m.featuresPerImage)
    }

    func testStreamDeliversTheTextAndStopsWhenAbandoned() async throws {
        let m = try model()
        let session = ChatSession(model: m, parameters: GenerationParameters(maxNewTokens: 8))
        var text = ""
        for try await piece in session.send("What is in the image?", images: [try image("gray.png")]) { text += piece }
        let reference = try ChatSession(model: m, parameters: GenerationParameters(maxNewTokens: 8))
            .respond("What is in the image?", images: [try image("gray.png")])
        XCTAssertEqual(text, reference.text)

        let long = ChatSession(model: m, parameters: GenerationParameters(maxNewTokens: 200))
        var pieces = 0
        for try await _ in long.send("Describe it.", images: [try image("gray.png")]) {
            pieces += 1
            if pieces == 2 { break }
        }
        XCTAssertEqual(pieces, 2)
        // The session is usable again after a cancelled answer.
        var again = ""
        for try await piece in long.send("Again?") { again += piece }
        XCTAssertFalse(again.isEmpty)
    }

    func testErrorsArriveThroughTheStream() async throws {
        let session = ChatSession(model: try model())
        do {
            for try await _ in session.send("<image> <image>", images: [try image("gray.png")]) {}
            XCTFail("expected an error")
        } catch let error as LLaVAError {
            XCTAssertEqual(error, .imageCountMismatch(placeholders: 2, images: 1))
        }
    }
}
