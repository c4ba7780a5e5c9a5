import Foundation
import Tensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Maps a whole file read-only into memory.
///
/// The pages are shared with the page cache: a 14 GB checkpoint costs address
/// space, not RAM, and only the pages a kernel touches are ever read. The
/// returned storage unmaps the file when the last tensor viewing it dies.
/// Writing through a tensor that views a mapping faults: mapped weights are read-only.
func mapFile(_ url: URL) throws -> Storage {
    let path = url.path
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CheckpointError.io(file: path, operation: "open", errno: errno) }
    defer { close(fd) }  // the mapping outlives the descriptor
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw CheckpointError.io(file: path, operation: "stat", errno: errno) }
    let size = Int(st.st_size)
    // mmap of zero bytes is an error; an empty file gets an empty owned storage
    // and fails the header check like any file shorter than 8 bytes.
    guard size > 0 else { return Storage(byteCount: 0) }
    guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
        throw CheckpointError.io(file: path, operation: "mmap", errno: errno)
    }
    return Storage(base: p, byteCount: size, isFileMapping: true, release: { munmap(p, size) })
}
