import DataGeneration
import XCTest

final class InstructionMergeTests: XCTestCase {
    func records(_ counts: [InstructionKind: Int]) -> [GeneratedRecord] {
        counts.flatMap { kind, n in
            (0..<n).map { GeneratedRecord(id: "\($0)-\(kind.rawValue)", kind: kind, image: "\($0).jpg", conversations: [
                LLaVATurn(from: "human", value: "<image>\nQ"), LLaVATurn(from: "gpt", value: "A")]) }
        }
    }

    func testKeepsLLaVAInstructProportions() throws {
        let merged = try InstructionMerge.merge(records([.conversation: 100, .detail: 100, .complex: 100]), total: nil, seed: 1)
        // complex limits: 100 complex ↔ 158 × 100/77 = 205 in all.
        XCTAssertEqual(merged.kept, [.conversation: 75, .detail: 30, .complex: 100])
        XCTAssertEqual(merged.records.count, 205)
        XCTAssertEqual(Set(merged.records.map(\.id)).count, 205)
        let exact = try InstructionMerge.merge(records([.conversation: 58, .detail: 23, .complex: 77]), total: 158, seed: 1)
        XCTAssertEqual(exact.kept, [.conversation: 58, .detail: 23, .complex: 77])
    }

    func testProportionsAmongThePresentKinds() throws {
        let merged = try InstructionMerge.merge(records([.detail: 10]), total: nil, seed: 0)
        XCTAssertEqual(merged.kept, [.detail: 10])
        let two = try InstructionMerge.merge(records([.conversation: 58, .detail: 100]), total: nil, seed: 0)
        XCTAssertEqual(two.kept, [.conversation: 58, .detail: 23])
    }

    func testTooLargeATotalIsAnError() {
        XCTAssertThrowsError(try InstructionMerge.merge(records([.conversation: 5, .detail: 5, .complex: 5]), total: 100, seed: 0)) {
            XCTAssertTrue("\($0)".contains("--total"), "\($0)")
        }
    }

    func testRepeatedIdsAreDropped() throws {
        let r = records([.detail: 3])
        let merged = try InstructionMerge.merge(r + r, total: nil, seed: 0)
        XCTAssertEqual(merged.duplicates, 3)
        XCTAssertEqual(merged.records.count, 3)
    }
}
