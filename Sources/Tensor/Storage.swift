#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes that tensors view: either owned (allocated, zeroed) or a read-only
/// memory mapping of a file that lives as long as any tensor viewing it.
public final class Storage: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int
    /// Whether the bytes are a read-only mapping of a file (pages may be given back and re-read).
    public let isFileMapping: Bool
    private let release: () -> Void

    /// Allocates `byteCount` zeroed bytes, 64-byte aligned (a cache line, and AVX-512 friendly).
    public init(byteCount: Int) {
        let size = max(byteCount, 1)
        let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        base = p
        self.byteCount = byteCount
        isFileMapping = false
        release = { p.deallocate() }
    }

    /// Wraps bytes someone else owns; `release` runs when the storage dies. `isFileMapping`
    /// says they are a read-only mapping of a file.
    public init(base: UnsafeMutableRawPointer, byteCount: Int, isFileMapping: Bool = false, release: @escaping () -> Void) {
        self.base = base
        self.byteCount = byteCount
        self.isFileMapping = isFileMapping
        self.release = release
    }

    deinit { release() }
}
