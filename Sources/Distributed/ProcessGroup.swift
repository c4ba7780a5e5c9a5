import CMPI
import Foundation

/// The processes of a data-parallel run and the few collectives training needs (PyTorch
/// DDP's and Horovod's split: each rank computes its shard of the batch, the gradients are
/// summed across ranks, rank 0 alone writes).
///
/// Under `mpirun`, Open MPI sets `OMPI_COMM_WORLD_SIZE` and `ProcessGroup.world` initialises
/// MPI; a plain run is a world of one in which every collective returns its input and MPI is
/// never touched, so the single-process path is the same code.
///
/// ```swift
/// let group = ProcessGroup.world
/// let tokens = group.sum(localTokens)                 // the same on every rank
/// group.allreduceSum(grad, count: n)                  // in place
/// let rows = group.allgather(localRows)               // every rank's, in rank order
/// if group.isRoot { try writeCheckpoint() }
/// ```
public final class ProcessGroup: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    private let usesMPI: Bool

    private init(rank: Int, size: Int, usesMPI: Bool) {
        self.rank = rank
        self.size = size
        self.usesMPI = usesMPI
    }

    /// A world of one process: no MPI.
    public static let single = ProcessGroup(rank: 0, size: 1, usesMPI: false)

    /// Every process of the job: MPI's world when launched by `mpirun`, else `single`.
    public static let world: ProcessGroup = launchedByMPI ? initialiseMPI() : single

    /// Whether `mpirun` (Open MPI, or a PMI launcher) started this process.
    public static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMI_SIZE"] != nil
    }

    public var isRoot: Bool { rank == 0 }

    private static func initialiseMPI() -> ProcessGroup {
        var provided: Int32 = 0
        check(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided), "MPI_Init_thread")
        // Errors come back as codes, so a failed collective stops the job with a message.
        check(MPI_Comm_set_errhandler(llava_mpi_comm_world(), llava_mpi_errors_return()), "MPI_Comm_set_errhandler")
        var rank: Int32 = 0, size: Int32 = 0
        check(MPI_Comm_rank(llava_mpi_comm_world(), &rank), "MPI_Comm_rank")
        check(MPI_Comm_size(llava_mpi_comm_world(), &size), "MPI_Comm_size")
        // A normal exit must finalise, or mpirun reports the rank as failed.
        atexit {
            var finalized: Int32 = 0
            MPI_Finalized(&finalized)
            if finalized == 0 { MPI_Finalize() }
        }
        return ProcessGroup(rank: Int(rank), size: Int(size), usesMPI: true)
    }

    /// Stops the whole job: prints `message` with this rank, then MPI_Abort (or exit in a world of one).
    public func abort(_ message: String, code: Int32 = 1) -> Never {
        let line = (size > 1 ? "rank \(rank) of \(size): " : "") + message + "\n"
        FileHandle.standardError.write(Data(line.utf8))
        if usesMPI { MPI_Abort(llava_mpi_comm_world(), code) }
        exit(code)
    }

    /// Runs `body`; an error on any rank prints it and aborts every rank (never a hang in a
    /// collective waiting for the failed one).
    public func runOrAbort(_ body: () throws -> Void) rethrows {
        guard usesMPI && size > 1 else { return try body() }
        do { try body() } catch { abort("error: \(error)") }
    }

    // MARK: - Collectives (no-ops in a world of one)

    /// values[i] = Σ over ranks of values[i], in place, on every rank.
    public func allreduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) {
        guard usesMPI && size > 1 else { return }
        var done = 0
        while done < count {  // MPI counts are Int32
            let n = min(count - done, 1 << 30)
            check(MPI_Allreduce(llava_mpi_in_place(), values + done, Int32(n), llava_mpi_float(), llava_mpi_sum(),
                                llava_mpi_comm_world()), "MPI_Allreduce (\(n) floats)")
            done += n
        }
    }

    /// values[i] = Σ over ranks, in place (f64).
    public func allreduceSum(_ values: inout [Double]) {
        guard usesMPI && size > 1, !values.isEmpty else { return }
        let n = values.count
        values.withUnsafeMutableBufferPointer { b in
            check(MPI_Allreduce(llava_mpi_in_place(), b.baseAddress!, Int32(n), llava_mpi_double(), llava_mpi_sum(),
                                llava_mpi_comm_world()), "MPI_Allreduce (\(n) doubles)")
        }
    }

    /// Σ over ranks of `x`.
    public func sum(_ x: Double) -> Double {
        var v = [x]
        allreduceSum(&v)
        return v[0]
    }

    /// Σ over ranks of `x`.
    public func sum(_ x: Int) -> Int {
        guard usesMPI && size > 1 else { return x }
        var v = Int64(x), out: Int64 = 0
        check(MPI_Allreduce(&v, &out, 1, llava_mpi_int64(), llava_mpi_sum(), llava_mpi_comm_world()), "MPI_Allreduce (int)")
        return Int(out)
    }

    /// Rank `root`'s `count` floats, copied to every rank.
    public func broadcast(_ values: UnsafeMutablePointer<Float>, count: Int, root: Int = 0) {
        guard usesMPI && size > 1 else { return }
        var done = 0
        while done < count {
            let n = min(count - done, 1 << 30)
            check(MPI_Bcast(values + done, Int32(n), llava_mpi_float(), Int32(root), llava_mpi_comm_world()),
                  "MPI_Bcast (\(n) floats)")
            done += n
        }
    }

    /// Every rank's `local` floats, laid end to end in rank order, on every rank (MPI_Allgatherv:
    /// ranks may contribute different counts, e.g. uneven shards of a batch).
    ///
    /// ```swift
    /// let all = group.allgather(localEmbeddings)   // (Σ rows, J) when each rank gives (rows, J)
    /// ```
    public func allgather(_ local: [Float]) -> [Float] {
        guard usesMPI && size > 1 else { return local }
        var mine = Int32(local.count), counts = [Int32](repeating: 0, count: size)
        check(MPI_Allgather(&mine, 1, llava_mpi_int32(), &counts, 1, llava_mpi_int32(), llava_mpi_comm_world()),
              "MPI_Allgather (counts)")
        var offsets = [Int32](repeating: 0, count: size)
        for r in 1..<size { offsets[r] = offsets[r - 1] + counts[r - 1] }
        var all = [Float](repeating: 0, count: Int(offsets[size - 1] + counts[size - 1]))
        local.withUnsafeBufferPointer { send in
            all.withUnsafeMutableBufferPointer { receive in
                check(MPI_Allgatherv(send.baseAddress, mine, llava_mpi_float(), receive.baseAddress, counts, offsets,
                                     llava_mpi_float(), llava_mpi_comm_world()), "MPI_Allgatherv (\(receive.count) floats)")
            }
        }
        return all
    }

    /// Waits until every rank is here.
    public func barrier() {
        guard usesMPI && size > 1 else { return }
        check(MPI_Barrier(llava_mpi_comm_world()), "MPI_Barrier")
    }

    /// The contiguous share of `count` items this rank takes: the first `count % size` ranks
    /// take one more, so shards differ by at most one.
    public func shard(of count: Int) -> Range<Int> {
        let base = count / size, extra = count % size
        let start = rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }
}

/// Aborts the job with MPI's own description of a failed call.
private func check(_ code: Int32, _ what: @autoclosure () -> String) {
    guard code != Int32(MPI_SUCCESS) else { return }
    var buffer = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
    var length: Int32 = 0
    MPI_Error_string(code, &buffer, &length)
    let reason = String(cString: buffer)
    FileHandle.standardError.write(Data("\(what()) failed: \(reason)\n".utf8))
    MPI_Abort(llava_mpi_comm_world(), code)
    exit(code)
}
