import Foundation
import Tensor

/// Complex-reasoning questions with step-by-step answers, from the boxes of the context. The
/// first sentence states the result; the rest explains it with positions, sizes and counts.
enum TeacherReasoning {
    static func question(_ facts: SceneFacts, _ rng: inout SplitMix64) -> QAPair {
        var makers: [(SceneFacts, inout SplitMix64) -> QAPair?] = [closestToCorner, largest, removeColour, compareCounts, highest]
        rng.shuffle(&makers)
        for make in makers { if let pair = make(facts, &rng) { return pair } }
        return closestToCorner(facts, &rng)!
    }

    /// Objects with boxes; from the captions alone every kind is one object at its region's middle.
    private static func objects(_ facts: SceneFacts) -> [(kind: ObjectKind, box: Box)] {
        if !facts.boxes.isEmpty { return facts.boxes }
        return facts.kinds.map { k in
            let c: Point
            switch facts.regions[k] ?? .center {
            case .left: c = Point(x: 0.2, y: 0.5)
            case .right: c = Point(x: 0.8, y: 0.5)
            case .top: c = Point(x: 0.5, y: 0.2)
            case .bottom: c = Point(x: 0.5, y: 0.8)
            case .center: c = Point(x: 0.5, y: 0.5)
            }
            return (k, Box(x1: c.x - 0.1, y1: c.y - 0.1, x2: c.x + 0.1, y2: c.y + 0.1))
        }
    }

    private static func distance(_ a: Point, _ b: Point) -> Double { ((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)).squareRoot() }

    static func closestToCorner(_ facts: SceneFacts, _ rng: inout SplitMix64) -> QAPair? {
        let corners: [(String, Point)] = [("top-left", Point(x: 0, y: 0)), ("top-right", Point(x: 1, y: 0)),
                                          ("bottom-left", Point(x: 0, y: 1)), ("bottom-right", Point(x: 1, y: 1))]
        let (name, corner) = rng.pick(corners)
        let ranked = objects(facts).map { ($0.kind, $0.box.centre, distance($0.box.centre, corner)) }.sorted { $0.2 < $1.2 }
        let best = ranked[0]
        var answer = Vocabulary.capitalised("\(BoxReading.name(best.0, facts)) is closest to the \(name) corner.")
        answer += " Its center is at about \(BoxReading.coordinates(best.1)), \(String(format: "%.2f", best.2)) from the corner."
        if ranked.count > 1 {
            let next = ranked[1]
            let nextName = next.0 == best.0 ? "another \(next.0.name)" : BoxReading.name(next.0, facts)
            answer += " The next closest is \(nextName) at \(BoxReading.coordinates(next.1)), \(String(format: "%.2f", next.2)) away, so it is further."
        } else {
            answer += " It is the only object in the image."
        }
        return QAPair(question: "Which object is closest to the \(name) corner of the image?", answer: answer)
    }

    static func largest(_ facts: SceneFacts, _ rng: inout SplitMix64) -> QAPair? {
        let ranked = objects(facts).sorted { $0.box.width * $0.box.height > $1.box.width * $1.box.height }
        guard ranked.count >= 2 else { return nil }
        let a0 = ranked[0].box.width * ranked[0].box.height, a1 = ranked[1].box.width * ranked[1].box.height
        guard a0 > 1.3 * a1 else { return nil }   // no question without a clear winner
        let answer = Vocabulary.capitalised("\(BoxReading.name(ranked[0].kind, facts)) is the largest object.")
            + String(format: " Its box covers about %.0f%% of the image, while the next largest, ", a0 * 100)
            + "\(BoxReading.name(ranked[1].kind, facts)), covers about \(String(format: "%.0f", a1 * 100))%."
        return QAPair(question: "Which object is the largest in the image?", answer: answer)
    }

    static func removeColour(_ facts: SceneFacts, _ rng: inout SplitMix64) -> QAPair? {
        let colours = Set(facts.kinds.map(\.colour)).sorted { $0.rawValue < $1.rawValue }
        guard colours.count >= 2 else { return nil }
        let colour = rng.pick(colours)
        let removed = facts.counts.filter { $0.key.colour == colour }.values.reduce(0, +)
        let left = facts.total - removed
        let q = "If all the \(colour.rawValue) objects were removed, how many objects would be left?"
        let first = left == 1 ? "1 object would be left." : "\(left) objects would be left."
        let answer = first + " There are \(facts.total) objects in the image and \(removed) of them "
            + (removed == 1 ? "is" : "are") + " \(colour.rawValue), so \(facts.total) - \(removed) = \(left) remain."
        return QAPair(question: q, answer: answer)
    }

    static func compareCounts(_ facts: SceneFacts, _ rng: inout SplitMix64) -> QAPair? {
        let present = Set(facts.kinds.map(\.shape)).sorted { $0.rawValue < $1.rawValue }
        guard let a = present.isEmpty ? nil : rng.pick(present) else { return nil }
        let others = Shape.allCases.filter { $0 != a }
        let b = rng.pick(others)
        let na = facts.count(of: a), nb = facts.count(of: b)
        guard na != nb else { return nil }
        let q = "Are there more \(a.plural) than \(b.plural) in the image?"
        let first = na > nb ? "Yes, there are more \(a.plural) than \(b.plural)." : "No, there are fewer \(a.plural) than \(b.plural)."
        func n(_ k: Int, _ s: Shape) -> String { k == 1 ? "1 \(s.rawValue)" : "\(k) \(s.plural)" }
        return QAPair(question: q, answer: first + " Counting them, I see \(n(na, a)) and \(n(nb, b)), and \(max(na, nb)) is more than \(min(na, nb)).")
    }

    static func highest(_ facts: SceneFacts, _ rng: inout SplitMix64) -> QAPair? {
        let ranked = objects(facts).sorted { $0.box.centre.y < $1.box.centre.y }
        guard ranked.count >= 2, ranked[1].box.centre.y - ranked[0].box.centre.y > 0.05 else { return nil }
        let answer = Vocabulary.capitalised("\(BoxReading.name(ranked[0].kind, facts)) is the highest object in the image.")
            + " Its center is at \(BoxReading.coordinates(ranked[0].box.centre)), higher than "
            + "\(BoxReading.name(ranked[1].kind, facts)) at \(BoxReading.coordinates(ranked[1].box.centre)), the next highest."
        return QAPair(question: "Which object is the highest in the image?", answer: answer)
    }
}
