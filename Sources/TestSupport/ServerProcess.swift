import Foundation

/// A `llava serve` started for a test, on 127.0.0.1 and a port the system picks; the port is read
/// from the server's "listening on http://HOST:PORT" line. Killed when released.
///
/// ```swift
/// let server = try ServerProcess.start(["--model", Fixtures.url("llava/hf-mlp2x-default").path])
/// defer { server.kill() }
/// // … requests to server.baseURL …
/// ```
public final class ServerProcess: @unchecked Sendable {
    public let process: Process
    public private(set) var port = 0
    private let lock = NSLock()
    private var errorText = ""   // guarded by `lock`

    /// `http://127.0.0.1:PORT`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Everything the server has written to stderr so far (its log lines).
    public var stderr: String {
        lock.lock()
        defer { lock.unlock() }
        return errorText
    }

    private init(process: Process) {
        self.process = process
    }

    /// Starts `llava serve --host 127.0.0.1 --port 0 arguments…` and waits until it listens.
    public static func start(_ arguments: [String], timeout: TimeInterval = 120) throws -> ServerProcess {
        let process = Process()
        process.executableURL = try LLaVAExecutable.url()
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", "0"] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        let server = ServerProcess(process: process)
        errors.fileHandleForReading.readabilityHandler = { [weak server] handle in
            let data = handle.availableData
            guard !data.isEmpty else { handle.readabilityHandler = nil; return }
            server?.append(String(decoding: data, as: UTF8.self))
        }
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let port = listeningPort(in: server.stderr) {
                server.port = port
                return server
            }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        server.kill()
        throw NSError(domain: "TestSupport", code: 3, userInfo: [NSLocalizedDescriptionKey:
            "llava serve \(arguments.joined(separator: " ")) did not start listening within \(timeout) s; stderr:\n\(server.stderr)"])
    }

    private func append(_ text: String) {
        lock.lock()
        errorText += text
        lock.unlock()
    }

    /// The port of the first "listening on http://HOST:PORT" line.
    static func listeningPort(in text: String) -> Int? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on http://") }),
              let colon = line.lastIndex(of: ":") else { return nil }
        return Int(line[line.index(after: colon)...])
    }

    /// Sends SIGTERM: the server's graceful shutdown.
    public func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// Waits for the process to end; its exit status, or nil if it is still running after `timeout`.
    public func waitForExit(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Ends the process at once (SIGKILL) if it is still running.
    public func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { kill() }
}
