import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
private let posixWrite = Glibc.write
#else
private let posixWrite = Darwin.write
#endif

/// Writes a file so that readers see the old file or the whole new one, never a part: the
/// bytes go to a temporary file in the same directory, which is flushed to disk and renamed
/// over the target; on any error the temporary file is removed and the target is untouched.
///
/// ```swift
/// try AtomicFile.write(to: url) { sink in
///     try sink.write(header)
///     try sink.write(tensor.rawPointer, count: tensor.byteCount)
/// }
/// ```
public enum AtomicFile {
    /// Where the bytes go; counts what was written.
    public final class Sink {
        let fd: Int32
        let path: String
        public private(set) var written = 0

        init(fd: Int32, path: String) { self.fd = fd; self.path = path }

        public func write(_ p: UnsafeRawPointer, count: Int) throws {
            var done = 0
            while done < count {
                let n = posixWrite(fd, p + done, min(count - done, 1 << 30))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CheckpointError.io(file: path, operation: "write", errno: errno)
                }
                done += n
            }
            written += count
        }

        public func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { if let base = $0.baseAddress { try write(base, count: $0.count) } }
        }
    }

    public static func write(to url: URL, _ body: (Sink) throws -> Void) throws {
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CheckpointError.io(file: temp.path, operation: "create", errno: errno) }
        do {
            try body(Sink(fd: fd, path: temp.path))
            guard fsync(fd) == 0 else { throw CheckpointError.io(file: temp.path, operation: "fsync", errno: errno) }
            guard close(fd) == 0 else { throw CheckpointError.io(file: temp.path, operation: "close", errno: errno) }
        } catch {
            close(fd)  // harmless EBADF if already closed
            unlink(temp.path)
            throw error
        }
        guard rename(temp.path, url.path) == 0 else {
            let code = errno
            unlink(temp.path)
            throw CheckpointError.io(file: url.path, operation: "rename", errno: code)
        }
        syncDirectory(url.deletingLastPathComponent())
    }

    /// Makes the rename durable; best effort, as some file systems refuse to fsync a directory.
    private static func syncDirectory(_ dir: URL) {
        let fd = open(dir.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
