import AsyncHTTPClient
import Foundation
import NIOCore

/// Headless Chromium driven over the W3C WebDriver protocol: Debian's `chromedriver` started on
/// a free port of 127.0.0.1, one browser session, and the few commands a page test needs.
///
/// ```swift
/// let browser = try await WebDriver.start()
/// try await browser.navigate(to: "http://127.0.0.1:8080/")
/// let button = try await browser.element("#send")
/// try await browser.click(button)
/// try await browser.quit()
/// ```
final class WebDriver: @unchecked Sendable {
    static let chromedriver = "/usr/bin/chromedriver"
    /// The key under which W3C WebDriver returns an element reference.
    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    let process: Process
    let base: String
    let http: HTTPClient
    private(set) var session = ""

    private init(process: Process, port: Int, http: HTTPClient) {
        self.process = process
        base = "http://127.0.0.1:\(port)"
        self.http = http
    }

    /// Starts chromedriver and a headless Chromium session.
    /// - Parameter log: where chromedriver writes its log (every command and answer).
    static func start(log: URL? = nil) async throws -> WebDriver {
        guard FileManager.default.isExecutableFile(atPath: chromedriver) else {
            throw WebDriverError("\(chromedriver) not found: scripts/setup.sh installs chromium and chromium-driver")
        }
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromedriver)
        process.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1"] + (log.map { ["--log-path=\($0.path)"] } ?? [])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let driver = WebDriver(process: process, port: port, http: HTTPClient(eventLoopGroupProvider: .singleton))
        do {
            try await driver.waitUntilReady()
            try await driver.newSession()
        } catch {
            await driver.close()
            throw error
        }
        return driver
    }

    private func waitUntilReady(timeout: Double = 20) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = try? await command("GET", "/status"), (status["ready"] as? Bool) == true { return }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        throw WebDriverError("chromedriver did not become ready within \(timeout) s")
    }

    private func newSession() async throws {
        let options: [String: Any] = [
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,800"],
        ]
        let value = try await command("POST", "/session", ["capabilities": ["alwaysMatch": [
            "browserName": "chrome", "goog:chromeOptions": options]]])
        guard let id = value["sessionId"] as? String else { throw WebDriverError("no session id in \(value)") }
        session = id
    }

    // MARK: - Commands

    func navigate(to url: String) async throws {
        _ = try await command("POST", "/session/\(session)/url", ["url": url])
    }

    /// The first element matching a CSS selector.
    func element(_ css: String) async throws -> String {
        let value = try await command("POST", "/session/\(session)/element", ["using": "css selector", "value": css])
        guard let id = value[Self.elementKey] as? String else { throw WebDriverError("no element for \(css): \(value)") }
        return id
    }

    /// Types `text`; for a file input, `text` is the path of the file to pick.
    func sendKeys(_ element: String, _ text: String) async throws {
        _ = try await command("POST", "/session/\(session)/element/\(element)/value", ["text": text])
    }

    func click(_ element: String) async throws {
        _ = try await command("POST", "/session/\(session)/element/\(element)/click", [:])
    }

    /// Runs a script in the page and returns its result.
    func execute(_ script: String) async throws -> Any {
        try await commandValue("POST", "/session/\(session)/execute/sync", ["script": script, "args": []])
    }

    /// A PNG of the viewport.
    func screenshot() async throws -> Data {
        guard let base64 = try await commandValue("GET", "/session/\(session)/screenshot") as? String,
              let data = Data(base64Encoded: base64) else { throw WebDriverError("no screenshot") }
        return data
    }

    /// Ends the session and chromedriver.
    func close() async {
        if !session.isEmpty { _ = try? await command("DELETE", "/session/\(session)") }
        // SIGKILL: a child of the test process inherits its blocked signals, SIGTERM among them.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? await http.shutdown()
    }

    // MARK: - Protocol

    /// One command; its `value`, which W3C wraps every answer in, as an object.
    private func command(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        try await commandValue(method, path, body) as? [String: Any] ?? [:]
    }

    private func commandValue(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any {
        var request = HTTPClientRequest(url: base + path)
        request.method = .RAW(value: method)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await http.execute(request, timeout: .seconds(60))
        let data = Data(try await response.body.collect(upTo: 64 << 20).readableBytesView)
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        let value = json["value"] ?? NSNull()
        if response.status.code >= 400 || (value as? [String: Any])?["error"] != nil {
            throw WebDriverError("\(method) \(path): HTTP \(response.status.code) \(String(decoding: data.prefix(500), as: UTF8.self))")
        }
        return value
    }

    /// A port of 127.0.0.1 that nothing listens on now.
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw WebDriverError("socket() failed") }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw WebDriverError("could not bind a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct WebDriverError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
