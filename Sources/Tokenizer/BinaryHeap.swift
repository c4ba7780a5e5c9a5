/// An array kept as a binary heap: `first` is the element that precedes every other one under
/// the order passed to each call (one order per heap, always the same). The tokenizer's merge
/// queue (BPE encoding, lowest rank first) and the trainer's pair queue (most frequent pair
/// first) are both this heap.
struct BinaryHeap<Element> {
    private(set) var elements: [Element] = []

    var first: Element? { elements.first }
    var isEmpty: Bool { elements.isEmpty }

    /// Adds `element`, sifting it up past every parent it precedes.
    mutating func push(_ element: Element, by precedes: (Element, Element) -> Bool) {
        elements.append(element)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(elements[child], elements[parent]) else { break }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the first element: the last one takes its place and sifts down to
    /// below the better of its children, left first on a tie.
    mutating func pop(by precedes: (Element, Element) -> Bool) -> Element? {
        guard let top = elements.first else { return nil }
        let last = elements.removeLast()
        guard !elements.isEmpty else { return top }
        elements[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var best = parent
            if left < elements.count, precedes(elements[left], elements[best]) { best = left }
            if right < elements.count, precedes(elements[right], elements[best]) { best = right }
            guard best != parent else { return top }
            elements.swapAt(parent, best)
            parent = best
        }
    }
}
