import DataGeneration
import Foundation
import OpenAIClient
import XCTest

final class PromptSetTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("prompts-\(UUID().uuidString)")
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testBuiltInCOCOSetHasEveryKind() throws {
        let coco = try BuiltInPrompts.coco.load()
        XCTAssertEqual(Set(coco.kinds.keys), Set(InstructionKind.allCases))
        XCTAssertEqual(coco.detailRequests.count, 10)
        for kind in InstructionKind.allCases {
            let p = coco.kinds[kind]!
            XCTAssertGreaterThanOrEqual(p.examples.count, 1)
            // Contexts as the paper: captions only for conversation, box lines for the others.
            for e in p.examples {
                let boxLines = e.user.split(separator: "\n").filter { $0.range(of: #"^[a-z ]+: \[\d\.\d{3}, \d\.\d{3}, \d\.\d{3}, \d\.\d{3}\]$"#, options: .regularExpression) != nil }
                XCTAssertEqual(boxLines.isEmpty, kind == .conversation, "\(kind): \(e.user)")
            }
        }
    }

    func testMessagesAreSystemThenExamplesThenContext() throws {
        let coco = try BuiltInPrompts.coco.load()
        let m = coco.messages(.complex, context: "A cat.\n\ncat: [0.000, 0.000, 1.000, 1.000]")
        let n = coco.kinds[.complex]!.examples.count
        XCTAssertEqual(m.count, 2 + 2 * n)
        XCTAssertEqual(m.map(\.role), [.system] + Array(repeating: [ChatMessage.Role.user, .assistant], count: n).flatMap { $0 } + [.user])
        XCTAssertEqual(m.last?.content, "A cat.\n\ncat: [0.000, 0.000, 1.000, 1.000]")
    }

    func testWriteThenLoadRoundTrips() throws {
        for set in BuiltInPrompts.allCases {
            let prompts = try set.load()
            let folder = dir.appendingPathComponent(set.rawValue)
            try prompts.write(to: folder)
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("detail/requests.txt").path))
            XCTAssertEqual(try PromptSet.load(from: folder, kinds: InstructionKind.allCases), prompts)
        }
    }

    func testMissingOrEmptyFilesAreNamed() throws {
        try BuiltInPrompts.coco.load().write(to: dir)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("complex/example-2.assistant.txt"))
        XCTAssertThrowsError(try PromptSet.load(from: dir, kinds: [.complex])) {
            XCTAssertTrue("\($0)".contains("complex/example-2.assistant.txt"), "\($0)")
        }
        XCTAssertNoThrow(try PromptSet.load(from: dir, kinds: [.detail]), "only the kinds asked for are read")
        try Data("  \n".utf8).write(to: dir.appendingPathComponent("detail/system.txt"))
        XCTAssertThrowsError(try PromptSet.load(from: dir, kinds: [.detail])) {
            XCTAssertTrue("\($0)".contains("detail/system.txt: empty"), "\($0)")
        }
        XCTAssertThrowsError(try PromptSet.load(from: dir.appendingPathComponent("nowhere"), kinds: [.conversation])) {
            XCTAssertTrue("\($0)".contains("nowhere/conversation/system.txt"), "\($0)")
        }
    }
}
