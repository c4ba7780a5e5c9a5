import Foundation
import LLaVA
import TestSupport
import Tokenizer
import Vision
import XCTest

/// The doc comments' examples compile (`DocExamples.swift` holds each one verbatim) and stay the
/// code that compiles: every ```swift block in the doc comments of LLaVA, Language, Vision and
/// Tokenizer must match a copy there, line for line (runs of spaces folded, so alignment may
/// differ). The examples that need no model or file also run.
final class DocExamplesTests: XCTestCase {
    static let targets = ["LLaVA", "Language", "Vision", "Tokenizer"]
    /// Files whose examples are not checked here, and why.
    static let excluded = [
        "Sources/LLaVA/Engine/": "the inference engine, being reworked on its own branch",
        "Sources/Language/BatchDecoding.swift": "being reworked on its own branch",
    ]

    /// Lines with runs of white space folded to one space.
    static func folded(_ lines: [String]) -> [String] {
        lines.map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
    }

    /// The ```swift blocks of the `///` comments of a source text.
    static func docExamples(in source: String) -> [[String]] {
        var blocks: [[String]] = [], current: [String]?
        for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == " " }
            guard trimmed.hasPrefix("///") else { current = nil; continue }
            var text = trimmed.dropFirst(3)
            if text.hasPrefix(" ") { text = text.dropFirst() }
            if current == nil {
                if text == "```swift" { current = [] }
            } else if text == "```" {
                blocks.append(current!)
                current = nil
            } else {
                current!.append(String(text))
            }
        }
        return blocks
    }

    /// The copies in DocExamples.swift: (source file, body lines).
    static func compiledCopies() throws -> [(file: String, lines: [String])] {
        let text = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("DocExamples.swift"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var copies: [(String, [String])] = []
        var i = 0
        while i < lines.count {
            if lines[i].hasPrefix("    // Sources/") {
                let file = String(lines[i].dropFirst("    // ".count))
                var body: [String] = []
                i += 1
                while i < lines.count && !lines[i].hasSuffix("{") { i += 1 }  // the func's (maybe wrapped) signature
                i += 1
                while i < lines.count && lines[i] != "    }" { body.append(lines[i]); i += 1 }
                copies.append((file, body))
            }
            i += 1
        }
        return copies
    }

    func testEveryDocExampleHasItsCompiledCopy() throws {
        let root = Fixtures.packageRoot
        let copies = try Self.compiledCopies()
        XCTAssertGreaterThan(copies.count, 20)
        var checked = 0
        for target in Self.targets {
            let dir = root.appendingPathComponent("Sources/\(target)")
            let files = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil)!
                .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
            for url in files {
                let relative = String(url.path.dropFirst(root.path.count + 1))
                if Self.excluded.keys.contains(where: { relative.hasPrefix($0) }) { continue }
                let mine = copies.filter { $0.file == relative }.map { Self.folded($0.lines) }
                for example in Self.docExamples(in: try String(contentsOf: url, encoding: .utf8)) {
                    checked += 1
                    XCTAssertTrue(mine.contains(Self.folded(example)), """
                        \(relative): this doc-comment example has no identical copy in \
                        Tests/DocExamplesTests/DocExamples.swift (add or update it there, under `// \(relative)`):
                        \(example.joined(separator: "\n"))
                        """)
                }
            }
        }
        XCTAssertEqual(checked, copies.count, "DocExamples.swift holds copies of examples no doc comment shows any more")
    }

    // MARK: - The examples that run without a model

    func testConversationExampleRendersTheReferencePrompt() {
        DocExamples().conversation()
        var conversation = Conversation(template: .llavaV1)
        conversation.append(user: "<image>\nWhat is in the picture?")
        XCTAssertTrue(conversation.prompt.hasPrefix("A chat between a curious human"))
        XCTAssertTrue(conversation.prompt.hasSuffix("USER: <image>\nWhat is in the picture? ASSISTANT:"))
    }

    func testLayoutExampleSaysOriginal() {
        DocExamples().layout()
        XCTAssertEqual(LLaVAConfiguration.layout(of: ["model_type": "llava", "mm_vision_tower": "openai/clip-vit-large-patch14-336",
                                                      "hidden_size": 4096, "num_hidden_layers": 32]), .original)
    }

    func testImageExamplesRun() throws {
        let examples = DocExamples()
        examples.rgbImage()
        let photo = RGBImage(width: 4, height: 2, pixels: [UInt8](repeating: 200, count: 4 * 2 * 3))
        examples.resizeBicubicExample(photo: photo)
        examples.expandToSquareExample(image: photo)
        try examples.imageError(url: URL(fileURLWithPath: "/nonexistent/photo.png"))
    }

    func testTokenizerErrorExampleRuns() throws {
        try DocExamples().tokenizerError(url: URL(fileURLWithPath: "/nonexistent"))
    }
}
