import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
private let posixWrite = Glibc.write
private let posixRename = Glibc.rename
#else
private let posixWrite = Darwin.write
private let posixRename = Darwin.rename
#endif

/// Everything that can go wrong saving or resuming training state; every case names the file.
public enum TrainingStateError: Error, CustomStringConvertible, Equatable {
    /// A system call failed; `errno` is the C error number.
    case io(file: String, operation: String, errno: Int32)
    /// A file the checkpoint needs is absent.
    case missingFile(file: String)
    /// A JSON file that does not decode.
    case invalidJSON(file: String, reason: String)
    /// A tensor that is not f32 where training state must be f32.
    case wrongDType(file: String, tensor: String, found: String)
    /// Optimizer moments or parameters whose shape differs from what they belong to.
    case shapeMismatch(file: String, tensor: String, expected: [Int], found: [Int])
    /// A parameter or moment the file should hold but does not.
    case missingTensor(file: String, tensor: String)
    /// Tensors in the file that nothing asked for.
    case unexpectedTensors(file: String, names: [String])

    public var description: String {
        switch self {
        case let .io(file, operation, code):
            return "\(file): \(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        case let .missingFile(file):
            return "\(file): missing (incomplete or foreign checkpoint?)"
        case let .invalidJSON(file, reason):
            return "\(file): invalid JSON: \(reason)"
        case let .wrongDType(file, tensor, found):
            return "\(file): tensor '\(tensor)' is \(found), expected F32"
        case let .shapeMismatch(file, tensor, expected, found):
            return "\(file): tensor '\(tensor)' has shape \(found) but \(expected) was expected"
        case let .missingTensor(file, tensor):
            return "\(file): no tensor '\(tensor)'"
        case let .unexpectedTensors(file, names):
            let shown = names.prefix(10).map { "'\($0)'" }.joined(separator: ", ")
            return "\(file): \(names.count) unexpected tensor(s): \(shown)\(names.count > 10 ? " …" : "")"
        }
    }
}

/// Durable file writes: the bytes reach the disk before anyone can see the file.
enum DurableFile {
    /// Writes `data` to `url` directly, then fsyncs it (for files inside a not-yet-renamed
    /// directory, where nobody can see a partial file anyway).
    static func write(_ data: Data, to url: URL) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TrainingStateError.io(file: url.path, operation: "create", errno: errno) }
        defer { close(fd) }
        try data.withUnsafeBytes { bytes in
            var done = 0
            while done < bytes.count {
                let n = posixWrite(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw TrainingStateError.io(file: url.path, operation: "write", errno: errno)
                }
                done += n
            }
        }
        guard fsync(fd) == 0 else { throw TrainingStateError.io(file: url.path, operation: "fsync", errno: errno) }
    }

    /// Temp file beside `url`, fsync, rename over `url`, fsync the directory: readers see the
    /// old file or the new one, never a torn one.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try write(data, to: temp)
            try rename(temp, to: url)
        } catch {
            unlink(temp.path)
            throw error
        }
        syncDirectory(url.deletingLastPathComponent())
    }

    static func rename(_ from: URL, to: URL) throws {
        guard posixRename(from.path, to.path) == 0 else {
            throw TrainingStateError.io(file: to.path, operation: "rename from \(from.lastPathComponent)", errno: errno)
        }
    }

    /// Makes renames and new entries durable; best effort, as some file systems refuse.
    static func syncDirectory(_ dir: URL) {
        let fd = open(dir.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
