import Tensor

/// Five captions per scene in varied wording, like COCO's five human captions. Four name every
/// object's colour and shape, with counts as digits; some add regions ("on the left") and
/// relations ("to the left of") that follow `Region` and `Relation`. The fifth names shapes only
/// ("2 triangles and a star on the left"): colour is the easiest feature for a contrastive model
/// to match, and a caption without it forces both CLIP towers to learn shapes too.
///
/// ```swift
/// let captions = CaptionWriter.captions(for: scene, seed: 3)   // 5 strings
/// ```
public enum CaptionWriter {
    public static let captionsPerImage = 5

    public static func captions(for scene: Scene, seed: UInt64) -> [String] {
        styledCaptions(for: scene, seed: seed).map(\.text)
    }

    /// The five captions with their styles; `style == .shapes` marks the one without colours.
    public static func styledCaptions(for scene: Scene, seed: UInt64) -> [(style: Style, text: String)] {
        var rng = SplitMix64(seed: seed)
        let groups = scene.kindCounts.map { Group(kind: $0.kind, count: $0.count, scene: scene) }
        var styles: [Style] = [.listing, .listingOnBackground, .shapes, .regions, .relations]
        // Without a clear relation between two single objects, say where things are instead.
        if relationSentences(groups, &rng).isEmpty { styles[4] = .regionsFirst }
        rng.shuffle(&styles)
        return styles.map { ($0, write($0, groups, scene, &rng)) }
    }

    public enum Style: Sendable { case listing, listingOnBackground, shapes, regions, regionsFirst, relations }

    /// The objects of one kind.
    struct Group {
        var kind: ObjectKind
        var count: Int
        var size: ObjectSize?   // nil when the copies differ in size
        var centre: Point       // normalised; meaningful when count == 1

        init(kind: ObjectKind, count: Int, scene: Scene) {
            let members = scene.objects.filter { $0.kind == kind }
            self.kind = kind
            self.count = count
            self.size = Set(members.map(\.size)).count == 1 ? members[0].size : nil
            self.centre = scene.normalisedCentre(members[0])
        }

        /// "a big red disc", "3 green triangles".
        func phrase(_ rng: inout SplitMix64, withSize: Bool) -> String {
            let (singular, plural) = rng.pick(Vocabulary.shapeSynonyms[kind.shape]!)
            var words = kind.colour.rawValue + " " + (count == 1 ? singular : plural)
            if withSize, let size { words = rng.pick(Vocabulary.sizeSynonyms[size]!) + " " + words }
            return Vocabulary.countedPhrase(count: count, words: words)
        }

        /// "the red circle" (single objects only).
        var definite: String { "the " + kind.name }
    }

    private static func write(_ style: Style, _ groups: [Group], _ scene: Scene, _ rng: inout SplitMix64) -> String {
        let withSize = rng.chance(0.5)
        let listed = Vocabulary.list(groups.map { $0.phrase(&rng, withSize: withSize) })
        let total = groups.reduce(0) { $0 + $1.count }
        switch style {
        case .listing:
            let noun = total == 1 ? "There is 1 object in the image:" : "There are \(total) objects in the image:"
            let prefix = rng.pick(["An image of", "A picture showing", "A simple drawing of", "This image contains", "We can see", noun])
            return "\(prefix) \(listed)."
        case .listingOnBackground:
            return Vocabulary.capitalised("\(listed) on a \(scene.background.rawValue) background.")
        case .shapes:
            var counts: [Shape: [SceneObject]] = [:]
            for o in scene.objects { counts[o.shape, default: []].append(o) }
            let parts = Shape.allCases.compactMap { shape -> String? in
                guard let members = counts[shape] else { return nil }
                let (singular, plural) = rng.pick(Vocabulary.shapeSynonyms[shape]!)
                guard members.count == 1 else { return "\(members.count) \(plural)" }
                let phrase = Vocabulary.countedPhrase(count: 1, words: singular)
                return rng.chance(0.5) ? "\(phrase) \(Region(normalised: scene.normalisedCentre(members[0])).phrase)" : phrase
            }
            let prefix = rng.pick(["Shapes:", "The shapes are", "Outlines of", "The image shows"])
            return "\(prefix) \(Vocabulary.list(parts))."
        case .regions:
            let parts = groups.map { g -> String in
                let p = g.phrase(&rng, withSize: withSize)
                return g.count == 1 ? "\(p) \(Region(normalised: g.centre).phrase)" : p
            }
            return Vocabulary.capitalised(Vocabulary.list(parts)) + "."
        case .regionsFirst:
            let parts = groups.map { g -> String in
                let p = g.phrase(&rng, withSize: withSize)
                guard g.count == 1 else { return "there \(g.count == 1 ? "is" : "are") \(p)" }
                return "\(Region(normalised: g.centre).phrase) there is \(p)"
            }
            return Vocabulary.capitalised(parts.joined(separator: "; ")) + "."
        case .relations:
            let sentences = relationSentences(groups, &rng)
            return Vocabulary.capitalised(listed) + ". " + sentences.prefix(2).joined(separator: " ")
        }
    }

    /// "The red circle is to the left of the blue star." for single objects with a clear relation.
    static func relationSentences(_ groups: [Group], _ rng: inout SplitMix64) -> [String] {
        let singles = groups.filter { $0.count == 1 }
        var out: [String] = []
        for i in singles.indices {
            for j in singles.indices where j > i {
                guard let r = Relation(from: singles[i].centre, to: singles[j].centre) else { continue }
                let verb = rng.pick(["is", "sits", "lies"])
                out.append(Vocabulary.capitalised("\(singles[i].definite) \(verb) \(r.rawValue) \(singles[j].definite)."))
            }
        }
        return out
    }
}
