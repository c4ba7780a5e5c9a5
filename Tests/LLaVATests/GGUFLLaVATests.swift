import Foundation
import LLaVA
import Language
import TestSupport
import Vision
import XCTest

/// llama.cpp's two files of a LLaVA-1.5 model (LLM GGUF + mmproj GGUF) answer as the
/// original-layout checkpoint they were converted from.
final class GGUFLLaVATests: XCTestCase {
    func testMMProjModelAnswersAsTheOriginalCheckpoint() throws {
        let gguf = try LLaVAModel(gguf: Fixtures.url("gguf/llava-llm-f32.gguf"), mmproj: Fixtures.url("gguf/llava-mmproj-f32.gguf"))
        let original = try LLaVAModel(directory: Fixtures.url("llava/orig-mlp2x"), visionTower: Fixtures.url("llava/orig-mlp2x-clip"))
        XCTAssertEqual(gguf.configuration.layout, .original)
        XCTAssertEqual(gguf.vision.config.layerCount, original.vision.config.layerCount - 1)
        XCTAssertEqual(gguf.featuresPerImage, original.featuresPerImage)
        let image = try ImageDecoder.decode(contentsOf: Fixtures.url("images/photo_500x333.jpg"))
        let a = try gguf.encode(image), b = try original.encode(image)
        XCTAssertLessThan(maxAbsDifference(a, b), 1e-4, differenceReport(a, b))
        var conversation = Conversation(template: .llavaV1)
        conversation.append(user: "<image>\nWhat is in the image?")
        let parameters = GenerationParameters(maxNewTokens: 12, stopTokenIDs: [])
        let ours = try gguf.generate(prompt: conversation.prompt, images: [image], parameters: parameters)
        let theirs = try original.generate(prompt: conversation.prompt, images: [image], parameters: parameters)
        XCTAssertEqual(ours.tokenIDs, theirs.tokenIDs)
        XCTAssertEqual(ours.promptTokenCount, theirs.promptTokenCount)
    }

    func testAnLLMFileGivenAsMMProjIsRefusedByName() throws {
        XCTAssertThrowsError(try LLaVAModel(gguf: Fixtures.url("gguf/llava-llm-f32.gguf"), mmproj: Fixtures.url("gguf/llava-llm-f32.gguf"))) { error in
            XCTAssertTrue("\(error)".contains("general.architecture") && "\(error)".contains("llava-llm-f32.gguf"), "\(error)")
        }
    }
}
