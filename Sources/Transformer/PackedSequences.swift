/// Several short token sequences run through the model in one forward call, for scoring
/// the continuations of multiple-choice documents.
///
/// Each document is a trunk (the tokens all its sequences share, e.g. the question) and
/// branches (what each sequence adds, e.g. one answer each). Rows are laid out document
/// after document, trunk first, then branch after branch. A trunk row sees the trunk rows
/// before it; a branch row sees the whole trunk and the rows of its own branch before it,
/// never another branch or another document. So the trunk's keys and values are computed
/// once and shared by every branch (a prefix KV cache without copies), and the projections
/// of many documents run as one large matrix product.
public struct PackedSequences: Sendable {
    public struct Document: Sendable {
        public var trunk: [Int32]
        public var branches: [[Int32]]

        public init(trunk: [Int32], branches: [[Int32]]) {
            self.trunk = trunk
            self.branches = branches
        }
    }

    /// Row ranges of one document, relative to the first packed row.
    struct Span: Sendable {
        let start: Int
        let trunkEnd: Int
        /// Start of each branch; branch b ends where branch b + 1 starts (the last at `end`).
        let branchStarts: [Int]
        let end: Int

        var rows: Int { end - start }
    }

    public private(set) var tokens: [Int32] = []
    /// Position of each row in its own sequence: branches continue after the trunk.
    public private(set) var positions: [Int] = []
    private(set) var spans: [Span] = []

    public init(_ documents: [Document]) {
        for document in documents {
            let start = tokens.count
            tokens += document.trunk
            positions += 0..<document.trunk.count
            let trunkEnd = tokens.count
            var branchStarts: [Int] = []
            for branch in document.branches {
                branchStarts.append(tokens.count)
                tokens += branch
                positions += document.trunk.count..<(document.trunk.count + branch.count)
            }
            spans.append(Span(start: start, trunkEnd: trunkEnd, branchStarts: branchStarts, end: tokens.count))
        }
    }

    public var rowCount: Int { tokens.count }
    public var documentCount: Int { spans.count }
    /// Rows of the largest document (the attention scratch is sized by it).
    var widestDocument: Int { spans.map(\.rows).max() ?? 0 }

    /// The packed row that holds token `index` of the sequence trunk + branch `branch` of
    /// document `document`.
    public func row(document: Int, branch: Int, tokenIndex index: Int) -> Int {
        let span = spans[document]
        let trunkLength = span.trunkEnd - span.start
        if index < trunkLength { return span.start + index }
        let row = span.branchStarts[branch] + index - trunkLength
        let branchEnd = branch + 1 < span.branchStarts.count ? span.branchStarts[branch + 1] : span.end
        precondition(row < branchEnd, "token \(index) is past the end of branch \(branch) of document \(document)")
        return row
    }
}
