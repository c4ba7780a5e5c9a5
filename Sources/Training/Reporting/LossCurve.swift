import Checkpoint
import Foundation
import JSONText

/// A loss-versus-step chart as a self-contained SVG (no dependencies, opens in any browser):
/// axes with round-number ticks and grid lines, the raw loss as a faint line and an
/// exponentially smoothed one on top (TensorBoard's debiased EMA), title and axis labels.
/// Non-finite losses are left out. The file is replaced atomically.
///
/// ```swift
/// let records = try MetricsLog.read(out.appendingPathComponent("metrics.jsonl"))
/// try LossCurve.writeSVG(steps: records.map(\.step), losses: records.map(\.loss),
///                        to: out.appendingPathComponent("loss.svg"), title: "stage 1: projector")
/// ```
public enum LossCurve {
    static let width = 800.0, height = 450.0
    /// The plot area inside the margins (room for the title, tick labels and axis labels).
    static let plot = (left: 72.0, right: 776.0, top: 48.0, bottom: 390.0)

    public static func writeSVG(steps: [Int], losses: [Float], to url: URL, title: String,
                                smoothing: Double = 0.9) throws {
        try AtomicFile.write(Data(svg(steps: steps, losses: losses, title: title, smoothing: smoothing).utf8),
                                        to: url)
    }

    /// The SVG document.
    public static func svg(steps: [Int], losses: [Float], title: String, smoothing: Double = 0.9) -> String {
        precondition(steps.count == losses.count, "\(steps.count) steps for \(losses.count) losses")
        precondition((0..<1).contains(smoothing), "smoothing must be in [0, 1), found \(smoothing)")
        let points = zip(steps, losses).filter { $0.1.isFinite }.map { (x: Double($0.0), y: Double($0.1)) }
        var body = [
            "<rect width=\"\(width)\" height=\"\(height)\" fill=\"white\"/>",
            "<text x=\"\(width / 2)\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">\(xmlText(title))</text>",
        ]
        if points.isEmpty {
            body.append(frame())
            body.append("<text x=\"\(width / 2)\" y=\"\(height / 2)\" text-anchor=\"middle\" fill=\"#777\">no finite losses</text>")
        } else {
            body += chart(points, smoothing: smoothing)
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
            \(body.joined(separator: "\n"))
            </svg>

            """
    }

    private static func chart(_ points: [(x: Double, y: Double)], smoothing: Double) -> [String] {
        let xTicks = ticks(points.map(\.x).min()!, points.map(\.x).max()!, integer: true)
        let yTicks = ticks(points.map(\.y).min()!, points.map(\.y).max()!, integer: false)
        // x spans the steps exactly (ticks fall inside); y is widened to whole ticks.
        let (first, last) = (points.map(\.x).min()!, points.map(\.x).max()!)
        let (x0, x1) = last > first ? (first, last) : (xTicks.lo, xTicks.hi)
        let (y0, y1) = (yTicks.lo, yTicks.hi)
        func px(_ x: Double) -> Double { plot.left + (x - x0) / (x1 - x0) * (plot.right - plot.left) }
        func py(_ y: Double) -> Double { plot.bottom - (y - y0) / (y1 - y0) * (plot.bottom - plot.top) }
        var out: [String] = []
        for t in xTicks.values where t >= x0 && t <= x1 {
            out.append(line(px(t), plot.top, px(t), plot.bottom, color: "#e6e6e6"))
            out.append(text(label(t, step: xTicks.step), x: px(t), y: plot.bottom + 18, anchor: "middle"))
        }
        for t in yTicks.values {
            out.append(line(plot.left, py(t), plot.right, py(t), color: "#e6e6e6"))
            out.append(text(label(t, step: yTicks.step), x: plot.left - 8, y: py(t) + 4, anchor: "end"))
        }
        out.append(frame())
        out.append(text("step", x: (plot.left + plot.right) / 2, y: height - 22, anchor: "middle"))
        out.append("<text transform=\"translate(20 \((plot.top + plot.bottom) / 2)) rotate(-90)\" text-anchor=\"middle\">loss</text>")
        let smooth = smoothed(points.map(\.y), weight: smoothing)
        let stride = max(1, points.count / 2000)  // a few thousand vertices are plenty for 700 pixels
        var kept = Array(Swift.stride(from: 0, to: points.count, by: stride))
        if kept.last != points.count - 1 { kept.append(points.count - 1) }
        out.append(polyline(kept.map { (px(points[$0].x), py(points[$0].y)) }, color: "#9ecae1", width: 1))
        out.append(polyline(kept.map { (px(points[$0].x), py(smooth[$0])) }, color: "#08519c", width: 2))
        out.append(legend(smoothing: smoothing))
        return out
    }

    // MARK: - Pieces

    /// TensorBoard's smoothing: an EMA divided by (1 − wⁿ) so the start is not pulled to 0.
    static func smoothed(_ ys: [Double], weight: Double) -> [Double] {
        var ema = 0.0, correction = 1.0
        return ys.map { y in
            ema = ema * weight + (1 - weight) * y
            correction *= weight
            return weight == 0 ? y : ema / (1 - correction)
        }
    }

    /// Round-number ticks (1, 2 or 5 × 10ᵏ apart) whose span covers [lo, hi].
    static func ticks(_ lo: Double, _ hi: Double, integer: Bool) -> (lo: Double, hi: Double, step: Double, values: [Double]) {
        var (lo, hi) = (lo, hi)
        if hi - lo < (integer ? 1 : 1e-9 * max(1, abs(lo))) {
            let pad = integer ? 1 : max(abs(lo) * 0.05, 1e-3)
            (lo, hi) = (lo - pad, hi + pad)
        }
        let raw = (hi - lo) / 5
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let nice = [1.0, 2, 5, 10].first { raw / magnitude <= $0 * 1.0001 } ?? 10
        let step = integer ? max(1, nice * magnitude) : nice * magnitude
        let first = (lo / step).rounded(.down) * step, last = (hi / step).rounded(.up) * step
        let count = Int(((last - first) / step).rounded())
        return (first, last, step, (0...count).map { first + Double($0) * step })
    }

    static func label(_ v: Double, step: Double) -> String {
        let decimals = max(0, Int((-log10(step)).rounded(.up)))
        return String(format: "%.\(decimals)f", abs(v) < step / 2 ? 0 : v)
    }

    private static func frame() -> String {
        "<rect x=\"\(plot.left)\" y=\"\(plot.top)\" width=\"\(plot.right - plot.left)\" "
            + "height=\"\(plot.bottom - plot.top)\" fill=\"none\" stroke=\"#333\"/>"
    }

    private static func legend(smoothing: Double) -> String {
        let x = plot.right - 196, y = plot.top + 16
        return "<g><rect x=\"\(f(x - 8))\" y=\"\(f(y - 11))\" width=\"196\" height=\"22\" fill=\"white\" fill-opacity=\"0.85\"/>"
            + line(x, y, x + 24, y, color: "#9ecae1", width: 1) + text("raw", x: x + 30, y: y + 4, anchor: "start")
            + line(x + 64, y, x + 88, y, color: "#08519c", width: 2)
            + text("smoothed (\(String(format: "%.2g", smoothing)))", x: x + 94, y: y + 4, anchor: "start") + "</g>"
    }

    private static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, color: String, width: Double = 1) -> String {
        "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(color)\" stroke-width=\"\(width)\"/>"
    }

    private static func text(_ s: String, x: Double, y: Double, anchor: String) -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\">\(xmlText(s))</text>"
    }

    private static func polyline(_ pts: [(Double, Double)], color: String, width: Double) -> String {
        let coords = pts.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ")
        return "<polyline points=\"\(coords)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(width)\" "
            + "stroke-linejoin=\"round\" stroke-linecap=\"round\"/>"
    }

    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }

}
