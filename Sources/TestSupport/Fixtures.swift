import Checkpoint
import Foundation
import Tensor

/// Locations of the committed fixtures (written by `scripts/make_fixtures.sh`).
public enum Fixtures {
    /// `Tests/Fixtures`, found from this file's path so tests need no SwiftPM resources.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tests/Fixtures")

    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Decodes a JSON fixture.
    public static func json<T: Decodable>(_ relative: String, as type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: url(relative)))
    }

    /// Opens a reference dump.
    public static func tensors(_ relative: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(url: url(relative))
    }

    /// The package root (for running the built `llava`).
    public static let packageRoot: URL = root.deletingLastPathComponent().deletingLastPathComponent()
}

/// The largest |a - b| over two equally long sequences.
public func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "comparing \(a.count) values with \(b.count)")
    var m: Float = 0
    for i in a.indices { m = max(m, abs(a[i] - b[i])) }
    return m
}

/// A one-line summary for failure messages: the worst index and the first values of both.
public func differenceReport(_ actual: [Float], _ expected: [Float]) -> String {
    var worst = 0
    for i in actual.indices where abs(actual[i] - expected[i]) > abs(actual[worst] - expected[worst]) { worst = i }
    let head = { (x: [Float]) in x.prefix(4).map { String(format: "%.5f", $0) }.joined(separator: ", ") }
    return "max |Δ| \(abs(actual[worst] - expected[worst])) at \(worst) (actual \(actual[worst]), expected \(expected[worst])); first actual [\(head(actual))] expected [\(head(expected))]"
}
