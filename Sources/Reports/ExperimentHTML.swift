import Experiments
import Foundation

/// An experiment's report as one self-contained HTML page: what was run (the config and
/// where, by whom and on what each cell ran), its tables and its plots inline. No script,
/// no stylesheet or font from elsewhere: it opens offline and archives as one file.
public enum ExperimentHTML {
    public static func render(_ results: ExperimentResults, published: PublishedNumbers? = nil, standardErrors: Bool = true) -> String {
        let tables = ExperimentTables(results, published: published)
        let config = results.config
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let configText = (try? encoder.encode(config)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let hosts = Set(results.cells.map { "\($0.provenance.host) (\($0.provenance.cpu), \($0.provenance.threads) threads, harness \($0.provenance.harnessVersion))" })
        let models = Dictionary(grouping: results.cells.flatMap { cell in cell.perplexity.map { (cell.model, $0.modelSHA256, cell.method == nil) } }.filter(\.2),
                                by: \.0).mapValues { Set($0.map(\.1)).sorted().joined(separator: ", ") }
        var body = ["<h1>\(escape(config.name))</h1>"]
        if let description = config.description { body.append("<p>\(escape(description))</p>") }
        body.append("<p>\(results.cells.count) of \(results.cells.count + results.unfinished.count) cells finished"
                    + (results.unfinished.isEmpty ? "." : "; unfinished: \(escape(results.unfinished.joined(separator: ", "))).") + "</p>")
        body.append("<h2>Tables</h2>")
        body += tables.all(standardErrors: standardErrors).map(\.html)
        let plots = tables.plots()
        if !plots.isEmpty {
            body.append("<h2>Plots</h2>")
            body += plots.map { "<figure>\n\($0.svg)<figcaption>\(escape($0.title))</figcaption>\n</figure>" }
        }
        body.append("<h2>Provenance</h2>")
        body.append("<ul>" + hosts.sorted().map { "<li>run on \(escape($0))</li>" }.joined()
                    + models.sorted { $0.key < $1.key }.map { "<li>\(escape($0.key)) SHA-256 \(escape($0.value))</li>" }.joined() + "</ul>")
        body.append("<h3>Config</h3>\n<pre>\(escape(configText))</pre>")
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(escape(config.name)): experiment report</title>
        <style>
        body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
        table { border-collapse: collapse; margin: 1em 0; }
        caption { font-weight: bold; text-align: left; padding-bottom: 0.4em; }
        th, td { border-top: 1px solid #bbb; border-bottom: 1px solid #bbb; padding: 0.25em 0.7em; text-align: right; }
        th:first-child, td:first-child { text-align: left; }
        tr.reference td { font-style: italic; color: #555; }
        p.note { font-size: 0.85em; color: #555; }
        figure { margin: 1.5em 0; }
        pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
        </style>
        </head>
        <body>
        \(body.joined(separator: "\n"))
        </body>
        </html>

        """
    }
}
