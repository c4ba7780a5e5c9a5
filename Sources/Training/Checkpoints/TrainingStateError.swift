import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
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
