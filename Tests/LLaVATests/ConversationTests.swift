import Foundation
import LLaVA
import Tokenizer
import TestSupport
import XCTest

/// Templates render the reference's strings to the character (llava/conversation.py).
final class ConversationTests: XCTestCase {
    func render(_ t: ConversationTemplate, _ turns: [String?]) -> String {
        var c = Conversation(template: t)
        for (i, turn) in turns.enumerated() {
            if i % 2 == 0 { c.append(user: turn!) } else { c.append(assistant: turn) }
        }
        return c.prompt
    }

    func testVicunaAndLlavaV1() {
        XCTAssertEqual(render(.vicunaV1, ["<image>\nQ1", "A1", "Q2"]),
                       "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. USER: <image>\nQ1 ASSISTANT: A1</s>USER: Q2 ASSISTANT:")
        XCTAssertEqual(render(.llavaV1, ["Q"]),
                       "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions. USER: Q ASSISTANT:")
        XCTAssertEqual(ConversationTemplate.llavaV1.stopString, "</s>")
    }

    func testPlainLlama2MistralChatmlAndV0() {
        XCTAssertEqual(render(.plain, ["<image>", "a red circle"]), "<image>\na red circle\n")
        XCTAssertEqual(render(.llavaLlama2, ["Q1", "A1", "Q2"]),
                       "[INST] <<SYS>>\nYou are a helpful language and vision assistant. You are able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language.\n<</SYS>>\n\nQ1 [/INST] A1 </s><s>[INST] Q2 [/INST]")
        XCTAssertEqual(render(.mistralInstruct, ["Q1", "A1", "Q2"]), "[INST] Q1 [/INST] A1 </s>[INST] Q2 [/INST]")
        XCTAssertEqual(render(.chatmlDirect, ["Q"]),
                       "<|im_start|>system\nAnswer the questions.<|im_end|><|im_start|>user\nQ<|im_end|><|im_start|>assistant\n")
        XCTAssertEqual(render(.llavaV0, ["Q"]),
                       "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.###Human: Q###Assistant:")
        XCTAssertEqual(render(.llavaHF, ["<image>\nQ1", "A1", "Q2"]), "USER: <image>\nQ1 ASSISTANT: A1 USER: Q2 ASSISTANT:")
    }

    func testAutomaticChoiceFollowsTheReferenceCLI() {
        XCTAssertEqual(ConversationTemplate.automatic(modelName: "llava-v1.5-7b", layout: .original).name, "llava_v1")
        XCTAssertEqual(ConversationTemplate.automatic(modelName: "llava-llama-2-13b-chat", layout: .original).name, "llava_llama_2")
        XCTAssertEqual(ConversationTemplate.automatic(modelName: "llava-v1.6-mistral-7b", layout: .original).name, "mistral_instruct")
        XCTAssertEqual(ConversationTemplate.automatic(modelName: "llava-v1.6-34b", layout: .original).name, "chatml_direct")
        XCTAssertEqual(ConversationTemplate.automatic(modelName: "llava-1.5-7b-hf", layout: .llavaHF).name, "llava_hf")
        XCTAssertEqual(ConversationTemplate.automatic(modelName: "my-llava", layout: .original).name, "llava_v0")
        XCTAssertThrowsError(try ConversationTemplate.named("nope")) { XCTAssertTrue("\($0)".contains("nope")) }
    }
}

/// The two layouts' prompt tokenisation rules.
final class PromptEncoderTests: XCTestCase {
    func tokenizer() throws -> Tokenizer { try Tokenizer(directory: Fixtures.url("tokenizer/legacy")) }

    func testOriginalTokenisesChunksSeparatelyWithOneBOS() throws {
        let t = try tokenizer()
        let e = PromptEncoder(layout: .original, tokenizer: t, imageTokenID: -200, featuresPerImage: 3)
        let items = try e.encode("USER: <image>\nred", imageCount: 1)
        let first = t.encode("USER: "), second = t.encode("\nred")
        let expected: [InputItem] = first.map { .token($0) } + (0..<3).map { .image(image: 0, row: $0) }
            + second.dropFirst().map { .token($0) }
        XCTAssertEqual(items, expected)
        XCTAssertEqual(first.first, t.bosTokenID)
    }

    func testLlavaHFExpandsEachImageTokenAndCountsMismatches() throws {
        let t = try tokenizer()
        let id = try XCTUnwrap(t.id(of: "<image>"))
        let e = PromptEncoder(layout: .llavaHF, tokenizer: t, imageTokenID: id, featuresPerImage: 4)
        let items = try e.encode("<image><image>x", imageCount: 2)
        XCTAssertEqual(items.filter { if case .image = $0 { return true } else { return false } }.count, 8)
        XCTAssertEqual(items[1], .image(image: 0, row: 0))
        XCTAssertEqual(items[5], .image(image: 1, row: 0))
        // text already expanded by a processor: 4 tokens are one image
        XCTAssertEqual(try e.encode("<image><image><image><image>x", imageCount: 1).count, items.count - 4)
        XCTAssertThrowsError(try e.encode("<image> and <image>", imageCount: 1)) { error in
            XCTAssertEqual(error as? LLaVAError, .imageCountMismatch(placeholders: 2, images: 1))
        }
        XCTAssertThrowsError(try e.encode(String(repeating: "<image>", count: 6), imageCount: 1)) { error in
            XCTAssertEqual(error as? LLaVAError, .imageFeatureCountMismatch(tokens: 6, features: 4))
        }
    }
}
