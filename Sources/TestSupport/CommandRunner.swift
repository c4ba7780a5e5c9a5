import Foundation

/// Runs the built `llava` executable, as a user would, and captures its output.
public struct CommandResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

public enum LLaVAExecutable {
    /// The `llava` binary next to the test bundle (SwiftPM builds both into one folder).
    public static func url() throws -> URL {
        let candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
                          URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        for dir in candidates {
            let u = dir.appendingPathComponent("llava")
            if FileManager.default.isExecutableFile(atPath: u.path) { return u }
        }
        throw NSError(domain: "TestSupport", code: 1, userInfo: [NSLocalizedDescriptionKey:
            "llava executable not found near \(candidates.map(\.path)); run `swift build` first"])
    }

    /// Runs `llava arguments…` to completion with a time limit, so a hang fails the test.
    public static func run(_ arguments: [String], stdin: String? = nil, timeout: TimeInterval = 120) throws -> CommandResult {
        try Subprocess.run(try url(), arguments, stdin: stdin, timeout: timeout)
    }
}

/// Runs a program to completion and captures its output (the built `llava`, a shell script).
public enum Subprocess {
    /// Runs `executable arguments…` in `directory` (default: this process's), with `environment`
    /// added to this process's, and a time limit, so a hang fails the test.
    public static func run(_ executable: URL, _ arguments: [String], stdin: String? = nil,
                           directory: URL? = nil, environment: [String: String] = [:],
                           timeout: TimeInterval = 120) throws -> CommandResult {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try process.run()
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try? input.fileHandleForWriting.close()
        }
        // Drain both pipes while the process runs, so a large output cannot block it.
        let captured = Captured()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { captured.set(out: out.fileHandleForReading.readDataToEndOfFile()); group.leave() }
        group.enter()
        DispatchQueue.global().async { captured.set(err: err.fileHandleForReading.readDataToEndOfFile()); group.leave() }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            throw NSError(domain: "TestSupport", code: 2, userInfo: [NSLocalizedDescriptionKey:
                "\(executable.lastPathComponent) \(arguments.joined(separator: " ")) did not finish within \(timeout) s"])
        }
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus,
                             stdout: String(decoding: captured.out, as: UTF8.self),
                             stderr: String(decoding: captured.err, as: UTF8.self))
    }
}

extension LLaVAExecutable {
    /// Starts `llava arguments…` without waiting, its stderr going to `stderr` (or nowhere), for
    /// tests that kill or watch a run.
    public static func launch(_ arguments: [String], stderr: URL? = nil) throws -> Process {
        let process = Process()
        process.executableURL = try url()
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        if let stderr {
            _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: stderr)
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        return process
    }
}

/// Output collected by two reader threads.
private final class Captured: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var out = Data(), err = Data()
    func set(out data: Data) { lock.lock(); out = data; lock.unlock() }
    func set(err data: Data) { lock.lock(); err = data; lock.unlock() }
}
