import Foundation

/// A table as the papers print it, in the three formats a researcher pastes: Markdown,
/// LaTeX with booktabs rules, and CSV (one line per row, RFC 4180 quoting). Cells are
/// already formatted text; `marked` rows (reference numbers, not measured here) are set
/// in italics in Markdown and LaTeX and flagged in CSV.
public struct TextTable: Equatable, Sendable {
    public let title: String
    public let columns: [String]
    public var rows: [[String]]
    public var marked: Set<Int> = []
    public var notes: [String] = []

    public init(title: String, columns: [String], rows: [[String]], marked: Set<Int> = [], notes: [String] = []) {
        self.title = title
        self.columns = columns
        self.rows = rows
        self.marked = marked
        self.notes = notes
    }

    public var markdown: String {
        var lines = ["**\(title)**", "", "| " + columns.joined(separator: " | ") + " |", "|" + columns.map { _ in "---" }.joined(separator: "|") + "|"]
        for (i, row) in rows.enumerated() {
            lines.append("| " + row.map { marked.contains(i) && !$0.isEmpty ? "*\($0)*" : $0 }.joined(separator: " | ") + " |")
        }
        if !notes.isEmpty { lines += [""] + notes }
        return lines.joined(separator: "\n") + "\n"
    }

    public var latex: String {
        func escape(_ text: String) -> String {
            var out = ""
            for c in text {
                switch c {
                case "%", "&", "_", "#", "$", "{", "}": out += "\\\(c)"
                case "±": out += "$\\pm$"
                case "×": out += "$\\times$"
                case "~": out += "\\textasciitilde{}"
                default: out.append(c)
                }
            }
            return out
        }
        var lines = ["\\begin{table}[t]", "\\centering", "\\caption{\(escape(title))}",
                     "\\begin{tabular}{l" + String(repeating: "r", count: max(0, columns.count - 1)) + "}", "\\toprule",
                     columns.map(escape).joined(separator: " & ") + " \\\\", "\\midrule"]
        for (i, row) in rows.enumerated() {
            lines.append(row.map { marked.contains(i) && !$0.isEmpty ? "\\textit{\(escape($0))}" : escape($0) }.joined(separator: " & ") + " \\\\")
        }
        lines += ["\\bottomrule", "\\end{tabular}"]
        if !notes.isEmpty { lines.append("\\par\\smallskip\\footnotesize " + notes.map(escape).joined(separator: " ")) }
        lines.append("\\end{table}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A `<table>` with its title as caption; marked rows carry class `reference`.
    public var html: String {
        var lines = ["<table>", "<caption>\(escape(title))</caption>", "<thead><tr>" + columns.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead>", "<tbody>"]
        for (i, row) in rows.enumerated() {
            lines.append((marked.contains(i) ? "<tr class=\"reference\">" : "<tr>") + row.map { "<td>\(escape($0))</td>" }.joined() + "</tr>")
        }
        lines.append("</tbody></table>")
        if !notes.isEmpty { lines.append("<p class=\"note\">" + notes.map(escape).joined(separator: " ") + "</p>") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The header, then the rows; a last column `reference` says which rows are marked.
    public var csv: String {
        func quote(_ text: String) -> String {
            text.contains(where: { ",\"\n".contains($0) }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        var lines = [(columns + ["reference"]).map(quote).joined(separator: ",")]
        for (i, row) in rows.enumerated() { lines.append((row + [marked.contains(i) ? "yes" : ""]).map(quote).joined(separator: ",")) }
        return lines.joined(separator: "\n") + "\n"
    }
}
