import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import Training

/// What a user sees: the JSONL metrics log, the progress line and the SVG loss curve.
final class MetricsTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func record(_ step: Int, loss: Float = 2.5) -> MetricsRecord {
        MetricsRecord(step: step, loss: loss, lr: 1.2e-4, gradNorm: 0.75, positions: 4096, tokens: 512,
                      tokensPerSecond: 3456.5, elapsed: Double(step) * 1.5)
    }

    func testJSONLinesParse() throws {
        let url = dir.appendingPathComponent("metrics.jsonl")
        let log = try MetricsLog(url: url)
        for step in 1...5 { try log.append(record(step, loss: step == 3 ? .nan : Float(step) / 3)) }
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 5)
        for line in lines {
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            XCTAssertEqual(Set(object.keys), ["step", "loss", "lr", "grad_norm", "positions", "tokens", "tokens_per_second", "elapsed"])
        }
        XCTAssertEqual(lines[0], #"{"step":1,"loss":0.33333334,"lr":0.00012,"grad_norm":0.75,"positions":4096,"tokens":512,"tokens_per_second":3456.5,"elapsed":1.5}"#)
        XCTAssertTrue(lines[2].contains(#""loss":null"#))
        let back = try MetricsLog.read(url)
        XCTAssertEqual(back.map(\.step), [1, 2, 3, 4, 5])
        XCTAssertEqual(back[1], record(2, loss: 2.0 / 3))
        XCTAssertTrue(back[2].loss.isNaN)
    }

    /// A log written before `positions` existed (its `tokens` counted positions) still reads.
    func testLogsWithoutPositionsStillRead() throws {
        let url = dir.appendingPathComponent("metrics.jsonl")
        let line = #"{"step":1,"loss":2.5,"lr":0.001,"grad_norm":0.5,"tokens":300,"tokens_per_second":99.5,"elapsed":1.5}"#
        try Data((line + "\n").utf8).write(to: url)
        let back = try MetricsLog.read(url)
        XCTAssertEqual(back, [MetricsRecord(step: 1, loss: 2.5, lr: 0.001, gradNorm: 0.5, positions: 0, tokens: 300,
                                            tokensPerSecond: 99.5, elapsed: 1.5)])
    }

    func testTornLastLineIsDroppedAndResumeTrims() throws {
        let url = dir.appendingPathComponent("metrics.jsonl")
        do {
            let log = try MetricsLog(url: url)
            for step in 1...6 { try log.append(record(step)) }
        }
        let handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
        handle.write(Data(#"{"step":7,"loss":2."#.utf8))  // killed mid-write
        handle.closeFile()
        XCTAssertEqual(try MetricsLog.read(url).map(\.step), [1, 2, 3, 4, 5, 6])

        // Resuming from the checkpoint at step 4 keeps 1…4; new records follow them.
        let resumed = try MetricsLog(url: url, keepingStepsThrough: 4)
        try resumed.append(record(5, loss: 1))
        XCTAssertEqual(try MetricsLog.read(url).map(\.step), [1, 2, 3, 4, 5])
        XCTAssertEqual(try MetricsLog.read(url).last?.loss, 1)
        // A fresh run starts an empty log.
        _ = try MetricsLog(url: url)
        XCTAssertEqual(try MetricsLog.read(url), [])
    }

    func testProgressLineFormat() {
        XCTAssertEqual(ProgressLine.format(step: 120, totalSteps: 1000, loss: 2.34123, lr: 1.2e-4,
                                           tokensPerSecond: 3456.4, eta: 723),
                       "step 120/1000 | loss 2.3412 | lr 1.2e-04 | 3,456 tok/s | ETA 12m03s")
        XCTAssertEqual(ProgressLine.duration(45), "45s")
        XCTAssertEqual(ProgressLine.duration(7384), "2h03m")
        XCTAssertEqual(ProgressLine.duration(200_000), "2d07h")
        XCTAssertEqual(ProgressLine.groupedThousands(1_234_567.8), "1,234,568")
        XCTAssertEqual(ProgressLine.groupedThousands(999), "999")
    }

    func testProgressLineOnTerminalAndInLogs() {
        var written: [String] = []
        var tty = ProgressLine(totalSteps: 20, isTerminal: true, output: { written.append($0) })
        for step in 1...3 { tty.update(step: step, loss: 1, lr: 1e-3, tokensPerSecond: 100, elapsed: Double(step)) }
        tty.finish()
        XCTAssertEqual(written.count, 4)
        XCTAssertTrue(written[0].hasPrefix("\rstep 1/20 |") && written[0].hasSuffix("ETA 19s\u{1B}[K"), written[0])
        XCTAssertEqual(written.last, "\n")

        written = []
        var file = ProgressLine(totalSteps: 25, startStep: 5, isTerminal: false, newlineEvery: 10, output: { written.append($0) })
        for step in 6...25 { file.update(step: step, loss: 1, lr: 1e-3, tokensPerSecond: 100, elapsed: Double(step - 5) * 2) }
        file.finish()
        XCTAssertEqual(written.map { String($0.prefix(11)) }, ["step 10/25 ", "step 20/25 ", "step 25/25 "])
        XCTAssertTrue(written[0].hasSuffix("ETA 30s\n"), written[0])  // 2 s/step since the resume, 15 to go
    }

    func testLossCurveIsWellFormedSVG() throws {
        let url = dir.appendingPathComponent("loss.svg")
        let steps = Array(1...500)
        var noise = Noise(state: 1)
        let losses = steps.map { Float(3 * exp(-Double($0) / 150) + 0.8) + noise.next() }
        try LossCurve.writeSVG(steps: steps, losses: losses, to: url, title: "stage 1 <projector> & \"alignment\"")
        let summary = try parseSVG(url)
        XCTAssertEqual(summary.root, "svg")
        XCTAssertEqual(summary.polylines, 2)
        XCTAssertGreaterThanOrEqual(summary.texts.count, 8)
        XCTAssertTrue(summary.texts.contains("stage 1 <projector> & \"alignment\""))
        XCTAssertTrue(summary.texts.contains("step") && summary.texts.contains("loss"))

        // Degenerate inputs still give valid documents.
        for (s, l) in [([Int](), [Float]()), ([5], [1.0]), ([1, 2, 3], [.nan, .infinity, 2]), ([1, 2], [.nan, .nan]),
                       (Array(0..<10_000), (0..<10_000).map { Float($0 % 7) })] {
            try LossCurve.writeSVG(steps: s, losses: l, to: url, title: "t")
            XCTAssertEqual(try parseSVG(url).root, "svg", "\(s.count) points")
        }
    }

    // MARK: - Helpers

    struct SVGSummary { var root = ""; var polylines = 0; var texts: [String] = [] }

    private func parseSVG(_ url: URL) throws -> SVGSummary {
        let parser = try XCTUnwrap(XMLParser(contentsOf: url))
        let delegate = SVGDelegate()
        parser.delegate = delegate
        XCTAssertTrue(parser.parse(), "XML error: \(String(describing: parser.parserError))")
        return delegate.summary
    }

    final class SVGDelegate: NSObject, XMLParserDelegate {
        var summary = SVGSummary()
        private var inText = false

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if summary.root.isEmpty { summary.root = name }
            if name == "polyline" { summary.polylines += 1 }
            if name == "text" { inText = true; summary.texts.append("") }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if inText { summary.texts[summary.texts.count - 1] += string }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "text" { inText = false }
        }
    }

    /// Deterministic noise for the plot (a 64-bit LCG).
    struct Noise {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1
            return Float(state >> 40) / Float(1 << 24) * 0.4 - 0.2
        }
    }
}
