import Foundation
import TestSupport
import XCTest

/// `docs/cli.md` is what `scripts/make_cli_docs.sh` writes from the built `llava`'s own help, so a
/// changed command, flag or help text fails here until the page is regenerated.
final class CLIDocsTests: XCTestCase {
    func testCLIPageMatchesTheHelp() throws {
        let root = Fixtures.packageRoot
        let generated = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString).md")
        defer { try? FileManager.default.removeItem(at: generated) }
        let r = try Subprocess.run(URL(fileURLWithPath: "/bin/bash"),
                                   [root.appendingPathComponent("scripts/make_cli_docs.sh").path,
                                    try LLaVAExecutable.url().path, generated.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let fresh = try String(contentsOf: generated, encoding: .utf8)
        let committed = try String(contentsOf: root.appendingPathComponent("docs/cli.md"), encoding: .utf8)
        guard fresh != committed else { return }
        let (a, b) = (committed.split(separator: "\n", omittingEmptySubsequences: false),
                      fresh.split(separator: "\n", omittingEmptySubsequences: false))
        let line = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
        XCTFail("""
            docs/cli.md differs from `llava --help` from line \(line + 1):
              committed: \(line < a.count ? String(a[line]) : "<end>")
              --help:    \(line < b.count ? String(b[line]) : "<end>")
            Regenerate it: swift build && scripts/make_cli_docs.sh .build/debug/llava
            """)
    }
}
