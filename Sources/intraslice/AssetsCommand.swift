import ArgumentParser
import Foundation
import ModelIO

struct Assets: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the models, texts and task files the harness knows by name, and whether they are cached.",
        discussion: "The cache is $INTRASLICE_CACHE or ~/.cache/intraslice; Scripts/fetch-assets.sh fills it."
    )

    @Flag(help: "Hash every cached file and compare it with its pinned SHA-256.") var verify = false
    @Option(help: "Only this kind: model, text or task.") var kind: String?
    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        if let kind, AssetKind(rawValue: kind) == nil {
            throw ValidationError("--kind must be one of \(AssetKind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(kind)'")
        }
    }

    func run() throws {
        let selected = AssetRegistry.all.filter { asset in kind.map { asset.kind.rawValue == $0 } ?? true }
        var rows: [[String: Any]] = []
        var bad = 0
        for asset in selected {
            var status = asset.isPresent ? "cached" : "missing"
            if verify && asset.isPresent {
                do { try asset.verify(); status = "verified" } catch { status = "corrupt"; bad += 1 }
            }
            print("\(asset.kind.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)) \(asset.id.padding(toLength: 16, withPad: " ", startingAt: 0)) \(status.padding(toLength: 9, withPad: " ", startingAt: 0)) \(asset.url.path)")
            rows.append(["id": asset.id, "kind": asset.kind.rawValue, "path": asset.url.path, "status": status,
                         "sha256": asset.sha256, "fetch": asset.fetchCommand])
        }
        if outputOptions.json {
            JSONOutput.emit(["command": "assets", "cache": AssetCache.root.path, "assets": rows, "corrupt": bad])
        }
        if bad > 0 { throw CommandError("\(bad) cached file(s) do not match their pinned SHA-256; delete them and run Scripts/fetch-assets.sh") }
    }
}
