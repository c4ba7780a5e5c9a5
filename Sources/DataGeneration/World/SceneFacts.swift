import Tensor

/// What is known about one image in symbolic form: built from a `Scene` (ground truth, for the
/// evaluation questions) or parsed from the teacher's context text (captions and boxes).
/// Questions are generated from facts, so both paths ask and answer in the same way.
public struct SceneFacts: Sendable, Equatable {
    public struct RelationFact: Sendable, Equatable {
        public var a: ObjectKind, relation: Relation, b: ObjectKind
    }

    /// Objects per kind (kinds absent from the image are not listed).
    public var counts: [ObjectKind: Int] = [:]
    /// Sizes of kinds whose copies all have one size.
    public var sizes: [ObjectKind: ObjectSize] = [:]
    /// Regions of kinds with exactly one object.
    public var regions: [ObjectKind: Region] = [:]
    /// Clear relations between single objects.
    public var relations: [RelationFact] = []
    /// Normalised centres of kinds with exactly one object: ground truth only (a scene's facts;
    /// the teacher's parsed text has none), and not part of `==`.
    public var centres: [ObjectKind: Point] = [:]
    /// One normalised box per object, when boxes were given.
    public var boxes: [(kind: ObjectKind, box: Box)] = []
    public var background: String?

    public init() {}

    /// The ground truth of a scene, with every clear relation between single objects.
    public init(scene: Scene) {
        for (kind, count) in scene.kindCounts {
            counts[kind] = count
            let members = scene.objects.filter { $0.kind == kind }
            if Set(members.map(\.size)).count == 1 { sizes[kind] = members[0].size }
            if count == 1 {
                centres[kind] = scene.normalisedCentre(members[0])
                regions[kind] = Region(normalised: centres[kind]!)
            }
        }
        let singles = scene.objects.filter { counts[$0.kind] == 1 }.sorted { $0.kind < $1.kind }
        for i in singles.indices {
            for j in singles.indices where j > i {
                if let r = Relation(from: scene.normalisedCentre(singles[i]), to: scene.normalisedCentre(singles[j])) {
                    relations.append(RelationFact(a: singles[i].kind, relation: r, b: singles[j].kind))
                }
            }
        }
        boxes = scene.objects.map { ($0.kind, scene.normalisedBox($0)) }
        background = scene.background.rawValue
    }

    public static func == (l: SceneFacts, r: SceneFacts) -> Bool {
        l.counts == r.counts && l.sizes == r.sizes && l.regions == r.regions && l.relations == r.relations
            && l.background == r.background && l.boxes.map(\.kind) == r.boxes.map(\.kind) && l.boxes.map(\.box) == r.boxes.map(\.box)
    }

    public var kinds: [ObjectKind] { counts.keys.sorted() }
    public var total: Int { counts.values.reduce(0, +) }
    func count(of shape: Shape) -> Int { counts.filter { $0.key.shape == shape }.values.reduce(0, +) }
    func colours(of shape: Shape) -> Set<ObjectColour> { Set(counts.keys.filter { $0.shape == shape }.map(\.colour)) }
    func shapes(of colour: ObjectColour) -> Set<Shape> { Set(counts.keys.filter { $0.colour == colour }.map(\.shape)) }
}

/// Candidate questions of each type for a set of facts, in a seeded random order. Both the
/// teacher and the evaluation use these, with the same conditions for when a question is fair.
enum QuestionGenerator {
    static func candidates(_ type: QuestionType, _ facts: SceneFacts, _ rng: inout SplitMix64) -> [PhrasedQuestion] {
        var out: [PhrasedQuestion]
        let kinds = facts.kinds
        switch type {
        case .existence:
            out = kinds.map { Phrasing.existence($0, count: facts.counts[$0]!) }
            // Negatives: absent kinds, half of them sharing a colour or a shape with a present one.
            let absent = ObjectKind.all.filter { facts.counts[$0] == nil }
            let near = absent.filter { k in kinds.contains { $0.colour == k.colour || $0.shape == k.shape } }
            for _ in 0..<max(1, kinds.count) {
                let pool = rng.chance(0.5) && !near.isEmpty ? near : absent
                out.append(Phrasing.existence(rng.pick(pool), count: 0))
            }
        case .colour:
            out = Shape.allCases.compactMap { s in
                let c = facts.colours(of: s)
                return c.count == 1 ? Phrasing.colour(of: s, is: c.first!, count: facts.count(of: s)) : nil
            }
        case .shape:
            out = ObjectColour.allCases.compactMap { c in
                let s = facts.shapes(of: c)
                let n = facts.counts.filter { $0.key.colour == c }.values.reduce(0, +)
                return s.count == 1 ? Phrasing.shape(of: c, is: s.first!, count: n) : nil
            }
        case .count:
            out = Set(kinds.map(\.shape)).sorted { $0.rawValue < $1.rawValue }.map { Phrasing.count($0, colour: nil, count: facts.count(of: $0)) }
            out += kinds.filter { facts.counts[$0]! > 1 }.map { Phrasing.count($0.shape, colour: $0.colour, count: facts.counts[$0]!) }
            let missing = Shape.allCases.filter { facts.count(of: $0) == 0 }
            if !missing.isEmpty && rng.chance(0.3) { out.append(Phrasing.count(rng.pick(missing), colour: nil, count: 0)) }
            out.append(Phrasing.objectCount(facts.total))
        case .position:
            out = facts.regions.keys.sorted().map { Phrasing.position($0, region: facts.regions[$0]!) }
        case .relation:
            out = facts.relations.map { f in
                let swap = rng.chance(0.5), flip = rng.chance(0.5)
                let (a, b, actual) = swap ? (f.b, f.a, f.relation.opposite) : (f.a, f.b, f.relation)
                return Phrasing.relation(a, flip ? actual.opposite : actual, b, actual: actual,
                                         centres: facts.centres[a].flatMap { ca in facts.centres[b].map { (ca, $0) } })
            }
        }
        rng.shuffle(&out)
        return out
    }
}
