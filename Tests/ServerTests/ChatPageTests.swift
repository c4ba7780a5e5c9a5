import Foundation
import TestSupport
import XCTest

/// The chat page at `/`, used as a person would: in headless Chromium, driven over WebDriver.
final class ChatPageTests: XCTestCase {
    var server: ServerProcess?
    var browser: WebDriver?
    var http: TestHTTPClient!

    let scene = Fixtures.packageRoot.appendingPathComponent("examples/scene.png")
    /// Where the screenshot and chromedriver's log go.
    let artifacts = Fixtures.packageRoot.appendingPathComponent(".build/test-artifacts")
    /// The README's first question about the example image.
    let question = "What shape are the red objects?"

    override func setUp() {
        http = TestHTTPClient()
    }

    override func tearDown() async throws {
        await browser?.close()
        server?.kill()
        http.shutdown()
    }

    func testPageIsOneSelfContainedFile() async throws {
        let server = try ServerProcess.start([])
        self.server = server
        let page = try await http.get(server.baseURL + "/")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.headers.first(name: "content-type"), "text/html; charset=utf-8")
        for id in ["image-input", "prompt", "send", "stop", "messages"] { XCTAssertTrue(page.text.contains("id=\"\(id)\""), id) }
        XCTAssertFalse(page.text.contains("src=\"http"), "nothing is fetched from elsewhere")
        XCTAssertFalse(page.text.contains("href=\"http"), "nothing is fetched from elsewhere")
    }

    /// What the page shows: every answer's text, the last answer's stats line, and whether an
    /// answer is running.
    struct PageState {
        let answers: [String]
        let stats: String
        let running: Bool
        let errors: [String]
    }

    func state(_ browser: WebDriver) async throws -> PageState {
        let value = try await browser.execute("""
            const texts = (css) => [...document.querySelectorAll(css)].map((e) => e.textContent);
            const stats = texts('.message.assistant .stats');
            return { answers: texts('.message.assistant .content'), stats: stats.length ? stats[stats.length - 1] : '',
                     running: !document.getElementById('stop').hidden, errors: texts('.message.error .content') };
            """) as? [String: Any] ?? [:]
        return PageState(answers: value["answers"] as? [String] ?? [], stats: value["stats"] as? String ?? "",
                         running: value["running"] as? Bool ?? false, errors: value["errors"] as? [String] ?? [])
    }

    /// Polls the page until `done` holds (or fails after `timeout` seconds).
    func waitFor(_ browser: WebDriver, timeout: Double = 60, _ what: String,
                 _ done: (PageState) -> Bool) async throws -> PageState {
        let deadline = Date().addingTimeInterval(timeout)
        var last = try await state(browser)
        while !done(last) {
            guard Date() < deadline else { throw WebDriverError("timed out waiting for \(what); page: \(last)") }
            try await Task.sleep(nanoseconds: 100_000_000)
            last = try await state(browser)
        }
        return last
    }

    func ask(_ browser: WebDriver, _ text: String) async throws {
        try await browser.sendKeys(try await browser.element("#prompt"), text)
        try await browser.click(try await browser.element("#send"))
    }

    /// Pick the example image, ask the README's question, watch the answer stream in, ask again
    /// in the same conversation; each answer is the server's for the same messages.
    func testChatWithAnImageInABrowser() async throws {
        let server = try ServerProcess.start([])
        self.server = server
        let browser = try await startBrowser()
        try await browser.navigate(to: server.baseURL + "/")
        try await browser.sendKeys(try await browser.element("#image-input"), scene.path)
        let attached = try await waitUntil { try await browser.execute("return document.querySelectorAll('#attachments img').length") as? Int == 1 }
        XCTAssertTrue(attached, "the picked image was not attached")

        try await ask(browser, question)
        let first = try await waitFor(browser, "the first answer") { !$0.running && !$0.stats.isEmpty || !$0.errors.isEmpty }
        XCTAssertEqual(first.errors, [])
        let reference = try LLaVAExecutable.run(["generate", "--image", scene.path, "--prompt", question, "--max-new-tokens", "256"])
        XCTAssertEqual(first.answers, [reference.stdout.trimmingCharacters(in: .newlines)])
        XCTAssertTrue(first.answers.first?.lowercased().contains("star") ?? false, "the answer names the shape: \(first.answers)")
        XCTAssertTrue(first.stats.contains("tokens/s"), first.stats)

        let followUp = "How many red objects are there?"
        try await ask(browser, followUp)
        let second = try await waitFor(browser, "the second answer") { $0.answers.count == 2 && !$0.running || !$0.errors.isEmpty }
        XCTAssertEqual(second.errors, [])
        let image = try ChatRequest.dataURI(scene)
        let messages: [[String: Any]] = [ChatRequest.user(question, images: [image]),
                                         ["role": "assistant", "content": first.answers[0]], ChatRequest.user(followUp)]
        let api = try await http.post(server.baseURL + "/v1/chat/completions",
                                      json: ["messages": messages, "temperature": 0, "max_tokens": 256])
        XCTAssertEqual(second.answers.last, api.json.answer, "the page carries the conversation")

        let shot = try await browser.screenshot()
        let file = artifacts.appendingPathComponent("chat-page.png")
        try shot.write(to: file)
        XCTAssertTrue(shot.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        print("chat page screenshot: \(file.path)")
    }

    /// Stop ends a running answer: the page shows it stopped, and the server frees the slot.
    func testStopEndsARunningAnswer() async throws {
        let server = try ServerProcess.start(["--preset", "tiny-llava", "--weights", "f32", "--parallel", "1"])
        self.server = server
        let browser = try await startBrowser()
        try await browser.navigate(to: server.baseURL + "/")
        _ = try await browser.execute("document.getElementById('max-tokens').value = '3000'")
        try await ask(browser, "Describe it.")
        _ = try await waitFor(browser, "the answer to start") { $0.running && !($0.answers.first ?? "").isEmpty }
        try await browser.click(try await browser.element("#stop"))
        let stopped = try await waitFor(browser, timeout: 10, "the answer to stop") { !$0.running }
        XCTAssertEqual(stopped.stats, "stopped")
        let freed = try await waitUntil(timeout: 5) {
            let metrics = try await self.http.get(server.baseURL + "/metrics").text
            return metrics.split(separator: "\n").contains("llava_active_sequences 0.0")
        }
        XCTAssertTrue(freed, "the slot was not freed after Stop")
    }

    func startBrowser() async throws -> WebDriver {
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let browser = try await WebDriver.start(log: artifacts.appendingPathComponent("chromedriver-\(name.filter(\.isLetter)).log"))
        self.browser = browser
        return browser
    }

    func waitUntil(timeout: Double = 20, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        return false
    }
}
