import Foundation
import Tensor
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
///
/// The one place the package writes files that must never be seen half-written: checkpoints,
/// GGUF, exported models, training state, the metrics log, generated images. A directory
/// written whole (a training checkpoint) goes under a temporary name and is published with
/// ``rename(_:to:)`` after ``syncDirectory(_:)``.
public enum AtomicFile {
    /// Where the bytes go; counts what was written.
    public final class Sink {
        let fd: Int32
        let path: String
        let ownsDescriptor: Bool
        public private(set) var written = 0

        init(fd: Int32, path: String, ownsDescriptor: Bool = false) {
            self.fd = fd; self.path = path; self.ownsDescriptor = ownsDescriptor
        }

        deinit { if ownsDescriptor { close(fd) } }

        /// A sink that appends to the existing file `url`, each `write` going out whole before it
        /// returns (an append-only log); the file is closed when the sink is released.
        public static func appending(to url: URL) throws -> Sink {
            let fd = open(url.path, O_WRONLY | O_APPEND | O_CLOEXEC)
            guard fd >= 0 else { throw CheckpointError.io(file: url.path, operation: "open for append", errno: errno) }
            return Sink(fd: fd, path: url.path, ownsDescriptor: true)
        }

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

        /// The tensor's values stored as `target` (block types in row order, as files hold them):
        /// its bytes when it already is, else through f32 about a mebi-value of rows at a time, so
        /// a converted copy of the whole tensor is never held (a 7B model goes out a slice at a time).
        public func write(_ t: Tensor, as target: DType) throws {
            let t = t.inRowOrder()   // a decode layout (Q4_0x8, Q4_Kx8) goes out as the rows files hold
            if t.dtype == target { return try write(t.rawPointer, count: t.byteCount) }
            let k = t.shape.last ?? 1, rows = k == 0 ? 0 : t.count / k, chunk = max(1, (1 << 20) / max(1, k))
            let floats = Tensor(zeros: [min(rows, chunk), k])
            let packed = Tensor(zeros: [min(rows, chunk), k], dtype: target)
            var r = 0
            while r < rows {
                let n = min(chunk, rows - r)
                convertToFloat(t.rawPointer + t.dtype.byteCount(elements: r * k), dtype: t.dtype, count: n * k, into: floats.floats)
                convertFromFloat(floats.floats, count: n * k, to: target, into: packed.rawPointer)
                try write(packed.rawPointer, count: target.byteCount(elements: n * k))
                r += n
            }
        }
    }

    /// Writes `data` as the whole new content of `url`. `durable: false` skips the fsyncs: readers
    /// still never see a torn file, but a crash may lose it (for many small files, e.g. images).
    public static func write(_ data: Data, to url: URL, durable: Bool = true) throws {
        try write(to: url, durable: durable) { sink in
            try data.withUnsafeBytes { if let base = $0.baseAddress { try sink.write(base, count: $0.count) } }
        }
    }

    /// Writes the file's bytes through `body`; see the type's summary.
    public static func write(to url: URL, durable: Bool = true, _ body: (Sink) throws -> Void) throws {
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CheckpointError.io(file: temp.path, operation: "create", errno: errno) }
        do {
            try body(Sink(fd: fd, path: temp.path))
            guard !durable || fsync(fd) == 0 else { throw CheckpointError.io(file: temp.path, operation: "fsync", errno: errno) }
            guard close(fd) == 0 else { throw CheckpointError.io(file: temp.path, operation: "close", errno: errno) }
        } catch {
            close(fd)  // harmless EBADF if already closed
            unlink(temp.path)
            throw error
        }
        guard posixRename(temp.path, url.path) == 0 else {
            let code = errno
            unlink(temp.path)
            throw CheckpointError.io(file: url.path, operation: "rename", errno: code)
        }
        if durable { syncDirectory(url.deletingLastPathComponent()) }
    }

    /// Renames `from` to `to` in one step (rename(2)), replacing `to` when it is a file or an
    /// empty directory: how a directory written whole under a temporary name is published.
    public static func rename(_ from: URL, to: URL) throws {
        guard posixRename(from.path, to.path) == 0 else {
            throw CheckpointError.io(file: to.path, operation: "rename from \(from.lastPathComponent)", errno: errno)
        }
    }

    /// Makes renames and new entries in `dir` durable; best effort, as some file systems refuse
    /// to fsync a directory.
    public static func syncDirectory(_ dir: URL) {
        let fd = open(dir.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
