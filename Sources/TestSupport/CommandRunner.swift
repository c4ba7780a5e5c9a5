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
    public static func run(_ arguments: [String], timeout: TimeInterval = 120) throws -> CommandResult {
        let process = Process()
        process.executableURL = try url()
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Drain both pipes while the process runs, so a large output cannot block it.
        var outData = Data(), errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            throw NSError(domain: "TestSupport", code: 2, userInfo: [NSLocalizedDescriptionKey:
                "llava \(arguments.joined(separator: " ")) did not finish within \(timeout) s"])
        }
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus,
                             stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData, as: UTF8.self))
    }
}
