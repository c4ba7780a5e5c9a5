import Foundation

/// How faithfully one description names the objects of its scene.
///
/// Objects are compared by (colour, shape): each naming with a colour is matched to a distinct
/// object of its kind in the scene (one of the same region first, then of the same size), so
/// precision is the share of namings that found an object and recall the share of objects named.
/// A naming of "2 red stars" counts twice. Namings without a colour ("the star") are not counted.
///
/// ```swift
/// let score = DescriptionScore(description: "A small red star is on the right.", scene: scene)
/// score.precision; score.recall; score.f1; score.repeated
/// ```
public struct DescriptionScore: Sendable, Equatable, Codable {
    /// Namings with a colour (a plural naming counts its number).
    public var named = 0
    /// Namings matched to a distinct scene object of their kind.
    public var matched = 0
    /// Objects in the scene.
    public var objects = 0
    /// Matched namings whose region (size) is the object's; a naming without one counts as wrong.
    public var placedRight = 0, sizedRight = 0
    /// One object described twice: two namings with the same colour, shape and region where the
    /// scene has fewer such objects, or namings that cannot each be given a distinct object they
    /// may describe (one of their kind anywhere, or one in their region with their colour or their
    /// shape, the other misread). An object misread and named once is no repeat, nor is a naming
    /// that fits no object at all; precision counts both.
    public var repeated = false
    /// A relation between an object and itself ("the red star is to the right of the red star").
    public var selfRelation = false
    /// Relations between two kinds that each have one object in the scene, and how many hold
    /// (the centres differ by at least `Relation.minimumOffset` in the stated direction).
    public var relationsJudged = 0, relationsRight = 0

    public var precision: Double { named > 0 ? Double(matched) / Double(named) : (objects == 0 ? 1 : 0) }
    public var recall: Double { objects > 0 ? Double(matched) / Double(objects) : 1 }
    public var f1: Double { precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0 }
    /// Every object named once with its colour and shape, and nothing else named.
    public var exact: Bool { matched == objects && named == objects }

    public init(description: String, scene: Scene) {
        self.init(parsed: DescriptionParser.parse(description), scene: scene)
    }

    public init(parsed: ParsedDescription, scene: Scene) {
        objects = scene.objects.count
        let region = { (o: SceneObject) in Region(normalised: scene.normalisedCentre(o)) }
        // One entry per object named, plural namings expanded.
        let namings = parsed.objects.filter { $0.kind != nil }.flatMap { Array(repeating: $0, count: $0.count) }
        named = namings.count
        var used = Set<Int>()
        // Namings that can be matched with their region first, so a wrong region elsewhere does not take their object.
        let order = namings.indices.sorted { a, b in
            let fits = { (n: DescribedObject) in scene.objects.contains { $0.kind == n.kind && region($0) == n.region } }
            return fits(namings[a]) && !fits(namings[b])
        }
        for i in order {
            let n = namings[i]
            let candidates = scene.objects.indices.filter { !used.contains($0) && scene.objects[$0].kind == n.kind }
            let best = candidates.max { a, b in
                let score = { (k: Int) in (region(scene.objects[k]) == n.region ? 2 : 0) + (scene.objects[k].size == n.size ? 1 : 0) }
                return score(a) < score(b)
            }
            guard let k = best else { continue }
            used.insert(k)
            matched += 1
            if region(scene.objects[k]) == n.region { placedRight += 1 }
            if scene.objects[k].size == n.size { sizedRight += 1 }
        }
        repeated = Self.describesTwice(namings, scene: scene, region: region)
        scoreRelations(parsed.relations, scene: scene)
    }

    private static func describesTwice(_ namings: [DescribedObject], scene: Scene, region: (SceneObject) -> Region) -> Bool {
        struct Key: Hashable { var kind: ObjectKind, region: Region? }
        let alike = Dictionary(grouping: namings) { Key(kind: $0.kind!, region: $0.region) }
        let sameWords = alike.contains { key, group in
            group.count >= 2 && group.count > scene.objects.filter { o in o.kind == key.kind && key.region.map { $0 == region(o) } ?? true }.count
        }
        if sameWords { return true }
        func fits(_ n: DescribedObject, _ o: SceneObject) -> Bool {
            o.kind == n.kind || (n.region != nil && n.region == region(o) && (o.colour == n.colour || o.shape == n.shape))
        }
        let describing = namings.filter { n in scene.objects.contains { fits(n, $0) } }
        return largestMatching(describing, scene.objects, fits) < describing.count
    }

    /// The most namings that can each be given a distinct object they fit (Kuhn's augmenting paths).
    private static func largestMatching(_ namings: [DescribedObject], _ objects: [SceneObject],
                                        _ fits: (DescribedObject, SceneObject) -> Bool) -> Int {
        var owner = [Int?](repeating: nil, count: objects.count)
        func augment(_ i: Int, _ seen: inout [Bool]) -> Bool {
            for k in objects.indices where !seen[k] && fits(namings[i], objects[k]) {
                seen[k] = true
                if owner[k].map({ augment($0, &seen) }) ?? true { owner[k] = i; return true }
            }
            return false
        }
        return namings.indices.filter { i in
            var seen = [Bool](repeating: false, count: objects.count)
            return augment(i, &seen)
        }.count
    }

    private mutating func scoreRelations(_ relations: [DescribedRelation], scene: Scene) {
        let single = { (kind: ObjectKind?) -> SceneObject? in
            let found = scene.objects.filter { $0.kind == kind }
            return found.count == 1 ? found[0] : nil
        }
        for r in relations {
            if let a = r.a.kind, a == r.b.kind { selfRelation = true; continue }
            guard let a = single(r.a.kind), let b = single(r.b.kind) else { continue }
            let pa = scene.normalisedCentre(a), pb = scene.normalisedCentre(b)
            let m = Relation.minimumOffset
            let holds: Bool
            switch r.relation {
            case .leftOf: holds = pb.x - pa.x >= m
            case .rightOf: holds = pa.x - pb.x >= m
            case .above: holds = pb.y - pa.y >= m
            case .below: holds = pa.y - pb.y >= m
            }
            relationsJudged += 1
            if holds { relationsRight += 1 }
        }
    }
}

/// The description metrics over a set of images: precision, recall and F1 averaged per image,
/// the share of matched namings in the right region (and size), and the shares of images with a
/// repeated mention, with a relation of an object to itself, and named exactly.
public struct DescriptionTotals: Sendable, Equatable, Codable {
    public var images = 0
    public var precisionSum = 0.0, recallSum = 0.0, f1Sum = 0.0
    public var matched = 0, placedRight = 0, sizedRight = 0
    public var imagesWithRepeats = 0, imagesWithSelfRelations = 0, imagesExact = 0
    public var relationsJudged = 0, relationsRight = 0

    public init() {}

    public mutating func add(_ s: DescriptionScore) {
        images += 1
        precisionSum += s.precision; recallSum += s.recall; f1Sum += s.f1
        matched += s.matched; placedRight += s.placedRight; sizedRight += s.sizedRight
        if s.repeated { imagesWithRepeats += 1 }
        if s.selfRelation { imagesWithSelfRelations += 1 }
        if s.exact { imagesExact += 1 }
        relationsJudged += s.relationsJudged; relationsRight += s.relationsRight
    }

    private func share(_ n: Int, _ d: Int) -> Double { d > 0 ? Double(n) / Double(d) : 0 }
    public var precision: Double { images > 0 ? precisionSum / Double(images) : 0 }
    public var recall: Double { images > 0 ? recallSum / Double(images) : 0 }
    public var f1: Double { images > 0 ? f1Sum / Double(images) : 0 }
    public var regionAccuracy: Double { share(placedRight, matched) }
    public var sizeAccuracy: Double { share(sizedRight, matched) }
    public var noRepeatShare: Double { 1 - share(imagesWithRepeats, images) }
    public var noSelfRelationShare: Double { 1 - share(imagesWithSelfRelations, images) }
    public var exactShare: Double { share(imagesExact, images) }
    public var relationAccuracy: Double { share(relationsRight, relationsJudged) }

    private enum CodingKeys: String, CodingKey {
        case images, precisionSum, recallSum, f1Sum, matched, placedRight, sizedRight, imagesWithRepeats,
             imagesWithSelfRelations, imagesExact, relationsJudged, relationsRight
    }
    private enum MetricKeys: String, CodingKey {
        case precision, recall, f1, regionAccuracy, sizeAccuracy, noRepeatShare, noSelfRelationShare, exactShare, relationAccuracy
    }

    /// The counts, and the metrics computed from them.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(images, forKey: .images)
        try c.encode(precisionSum, forKey: .precisionSum); try c.encode(recallSum, forKey: .recallSum); try c.encode(f1Sum, forKey: .f1Sum)
        try c.encode(matched, forKey: .matched); try c.encode(placedRight, forKey: .placedRight); try c.encode(sizedRight, forKey: .sizedRight)
        try c.encode(imagesWithRepeats, forKey: .imagesWithRepeats); try c.encode(imagesWithSelfRelations, forKey: .imagesWithSelfRelations)
        try c.encode(imagesExact, forKey: .imagesExact)
        try c.encode(relationsJudged, forKey: .relationsJudged); try c.encode(relationsRight, forKey: .relationsRight)
        var m = encoder.container(keyedBy: MetricKeys.self)
        try m.encode(precision, forKey: .precision); try m.encode(recall, forKey: .recall); try m.encode(f1, forKey: .f1)
        try m.encode(regionAccuracy, forKey: .regionAccuracy); try m.encode(sizeAccuracy, forKey: .sizeAccuracy)
        try m.encode(noRepeatShare, forKey: .noRepeatShare); try m.encode(noSelfRelationShare, forKey: .noSelfRelationShare)
        try m.encode(exactShare, forKey: .exactShare)
        try m.encode(relationAccuracy, forKey: .relationAccuracy)
    }

    /// A markdown table of the metrics, with the targets.
    public var table: String {
        let p = { (x: Double) in String(format: "%.1f%%", 100 * x) }
        return """
        | description metric (\(images) images) | value | target |
        |---|---|---|
        | object precision | \(p(precision)) | |
        | object recall | \(p(recall)) | |
        | object F1 | \(p(f1)) | ≥ 95% |
        | named objects in the right region | \(p(regionAccuracy)) (\(placedRight) / \(matched)) | ≥ 90% |
        | named objects with the right size | \(p(sizeAccuracy)) (\(sizedRight) / \(matched)) | |
        | images without a repeated mention | \(p(noRepeatShare)) (\(images - imagesWithRepeats) / \(images)) | ≥ 95% |
        | images named exactly (each object once, colour and shape right, nothing else) | \(p(exactShare)) (\(imagesExact) / \(images)) | |
        | images without a self-relation | \(p(noSelfRelationShare)) (\(images - imagesWithSelfRelations) / \(images)) | |
        | stated relations that hold | \(p(relationAccuracy)) (\(relationsRight) / \(relationsJudged)) | |
        """
    }
}
