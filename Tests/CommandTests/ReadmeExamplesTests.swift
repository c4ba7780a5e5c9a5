import Foundation
import TestSupport
import XCTest

/// Runs the README's shell examples as written, against the built `llava`, so that every
/// command a newcomer copies works.
///
/// Every ```` ```sh ```` block runs, in order, in one scratch folder (so a block can use what an
/// earlier one made), with `llava` on the `PATH` and `.build/release/llava`, `examples/` and
/// `Sources/` reachable as from the repository root. A block preceded by the line
/// `<!-- readme-test: skip (reason) -->` is not run: it needs a checkpoint or data the user
/// brings, or CI runs it itself.
final class ReadmeExamplesTests: XCTestCase {
    static let skipMarker = "<!-- readme-test: skip"

    /// The README's shell blocks, each with whether it is marked to skip.
    static func shellBlocks(of markdown: String) -> [(code: String, skipped: Bool)] {
        var blocks: [(String, Bool)] = []
        var current: [Substring]?
        var previous: Substring = "", skipped = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if var body = current {
                if line.hasPrefix("```") { blocks.append((body.joined(separator: "\n"), skipped)); current = nil } else {
                    body.append(line); current = body
                }
            } else if line == "```sh" {
                current = []
                skipped = previous.hasPrefix(skipMarker)
            }
            if !line.trimmingCharacters(in: .whitespaces).isEmpty { previous = line }
        }
        return blocks
    }

    func testMarkersAreReadAsIntended() {
        let blocks = Self.shellBlocks(of: "```sh\na\n```\n<!-- readme-test: skip (x) -->\n```sh\nb\nc\n```\n```swift\nd\n```\n")
        XCTAssertEqual(blocks.map(\.code), ["a", "b\nc"])
        XCTAssertEqual(blocks.map(\.skipped), [false, true])
    }

    func testShellExamplesRunAsWritten() throws {
        let root = Fixtures.packageRoot
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let blocks = Self.shellBlocks(of: readme)
        XCTAssertGreaterThan(blocks.filter { !$0.skipped }.count, 3, "the README should have runnable examples")

        let fm = FileManager.default
        let scratch = fm.temporaryDirectory.appendingPathComponent("readme-\(UUID().uuidString)")
        let bin = scratch.appendingPathComponent(".build/release")
        try fm.createDirectory(at: bin, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: scratch) }
        try fm.createSymbolicLink(at: bin.appendingPathComponent("llava"), withDestinationURL: try LLaVAExecutable.url())
        for entry in ["examples", "Sources"] {
            try fm.createSymbolicLink(at: scratch.appendingPathComponent(entry),
                                      withDestinationURL: root.appendingPathComponent(entry))
        }
        let path = bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        for (index, block) in blocks.enumerated() where !block.skipped {
            // Background jobs (`llava serve &`) end with the block, whatever happens in it.
            let script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + block.code
            let r = try Subprocess.run(URL(fileURLWithPath: "/bin/bash"), ["-c", script], directory: scratch,
                                       environment: ["PATH": path], timeout: 600)
            XCTAssertEqual(r.status, 0, """
                README shell block \(index + 1) failed (exit \(r.status)):
                \(block.code)
                --- stdout ---
                \(r.stdout.suffix(2000))
                --- stderr ---
                \(r.stderr.suffix(2000))
                """)
            if r.status != 0 { return }  // later blocks may need what this one makes
        }
    }
}
