import NIOCore

/// Why the server could not run.
public enum ServerError: Error, CustomStringConvertible {
    /// The address could not be bound (already in use, not an address of this machine, …).
    case cannotListen(host: String, port: Int, reason: String)

    public var description: String {
        switch self {
        case .cannotListen(let host, let port, let reason):
            return "cannot listen on \(host):\(port): \(reason)"
        }
    }
}
