// The two spatial rules shared by captions, the teacher and the evaluation questions, so that
// every "on the left" and "above" in the data means exactly the same thing.

/// Where an object sits in the image, from its normalised centre.
public enum Region: String, Codable, Sendable, CaseIterable {
    case left, right, top, bottom, center

    /// Half-width of the central square: a centre within 0.17 of (0.5, 0.5) on both axes is "center".
    public static let centreHalfWidth = 0.17

    /// The region of a normalised point: the central square first, otherwise the side of the
    /// image along the axis with the larger offset from the middle.
    public init(normalised p: Point) {
        let dx = p.x - 0.5, dy = p.y - 0.5
        if abs(dx) < Region.centreHalfWidth && abs(dy) < Region.centreHalfWidth {
            self = .center
        } else if abs(dx) >= abs(dy) {
            self = dx < 0 ? .left : .right
        } else {
            self = dy < 0 ? .top : .bottom
        }
    }

    /// The words after "is": "on the left", "at the top", "in the center".
    public var phrase: String {
        switch self {
        case .left: return "on the left"
        case .right: return "on the right"
        case .top: return "at the top"
        case .bottom: return "at the bottom"
        case .center: return "in the center"
        }
    }
}

/// How one object lies relative to another.
public enum Relation: String, Codable, Sendable, CaseIterable {
    case leftOf = "to the left of"
    case rightOf = "to the right of"
    case above = "above"
    case below = "below"

    /// Centres must differ by at least this much (normalised) along the deciding axis.
    public static let minimumOffset = 0.15

    /// The relation of A to B along the axis where their centres differ most, or nil when the
    /// difference is too small to be clear.
    public init?(from a: Point, to b: Point) {
        let dx = a.x - b.x, dy = a.y - b.y
        if abs(dx) >= abs(dy) {
            guard abs(dx) >= Relation.minimumOffset else { return nil }
            self = dx < 0 ? .leftOf : .rightOf
        } else {
            guard abs(dy) >= Relation.minimumOffset else { return nil }
            self = dy < 0 ? .above : .below
        }
    }

    public var opposite: Relation {
        switch self {
        case .leftOf: return .rightOf
        case .rightOf: return .leftOf
        case .above: return .below
        case .below: return .above
        }
    }

    /// Horizontal relations only contradict horizontal ones.
    public var isHorizontal: Bool { self == .leftOf || self == .rightOf }
}
