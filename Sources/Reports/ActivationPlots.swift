import Foundation
import H5Store

/// The SVG plots of `intraslice report activations`, from statistics files of
/// `intraslice activations`: the eigenvalue spectra and variance kept of one site at
/// several layers (the first file), and per layer across files the drift against the
/// dense model (files made with a reference), the largest magnitude and the outlier share.
public struct ActivationPlots {
    /// What the plots read of one statistics file.
    struct Statistics {
        let label: String
        let layers: Int
        /// Per layer: the site's eigenvalues, largest magnitude, outlier share.
        let eigenvalues: [[Double]]
        let largest: [Double]
        let outlierShare: [Double]
        /// Per layer relative errors of the stream, attention and MLP (nil without a reference).
        let drift: (residual: [Double], attention: [Double], mlp: [Double])?
        let meanKL: Double?
    }

    let site: String
    let files: [Statistics]

    /// `labels` name the files in legends (default: the model, with method and ratio when pruned).
    public init(files paths: [String], site: String, labels: [String]? = nil) throws {
        guard !paths.isEmpty else { throw ReportError("report activations: no statistics file given") }
        if let labels, labels.count != paths.count { throw ReportError("report activations: \(labels.count) labels for \(paths.count) files") }
        self.site = site
        files = try paths.enumerated().map { i, path in try Self.read(path, site: site, label: labels?[i]) }
    }

    static func read(_ path: String, site: String, label: String?) throws -> Statistics {
        let h5 = try H5Reader(path: path)
        guard h5.exists("/activations") else { throw ReportError("\(path): no /activations group; not a statistics file of intraslice activations") }
        guard case let .int(layers)? = try? h5.attribute("layers", of: "/activations") else {
            throw ReportError("\(path): /activations has no layers attribute")
        }
        var eigenvalues: [[Double]] = [], largest: [Double] = [], share: [Double] = []
        for layer in 0..<Int(layers) {
            let group = "/activations/\(layerGroup(layer))/\(site)"
            guard h5.exists(group) else { throw ReportError("\(path): no \(group); the file was made without site \(site)") }
            eigenvalues.append(try h5.read("\(group)/eigenvalues", as: Double.self).values)
            largest.append(Double(try h5.read("\(group)/abs_max", as: Float.self).values.max() ?? 0))
            guard case let .double(outliers) = try h5.attribute("outlier_fraction", of: group) else {
                throw ReportError("\(path): \(group) has no outlier_fraction attribute")
            }
            share.append(outliers)
        }
        var drift: (residual: [Double], attention: [Double], mlp: [Double])?
        var meanKL: Double?
        if h5.exists("/comparison") {
            func errors(_ part: String) throws -> [Double] { try h5.read("/comparison/\(part)_relative_error", as: Double.self, expectedShape: [Int(layers)]) }
            drift = (try errors("residual"), try errors("attention"), try errors("mlp"))
            if case let .double(kl)? = try? h5.attribute("mean_next_token_kl", of: "/comparison") { meanKL = kl }
        }
        let label = try label ?? defaultLabel(h5)
        return Statistics(label: label, layers: Int(layers), eigenvalues: eigenvalues, largest: largest,
                          outlierShare: share, drift: drift, meanKL: meanKL)
    }

    /// "smollm2-135m", or "slicegpt 25 % (smollm2-135m)" for a pruned model.
    static func defaultLabel(_ h5: H5Reader) throws -> String {
        let provenance = try h5.attributes(of: "/provenance")
        guard case let .string(model)? = provenance["model"] else { return "model" }
        guard case let .string(method)? = provenance["pruning_method"], case let .double(ratio)? = provenance["pruning_ratio"] else {
            return URL(fileURLWithPath: model).lastPathComponent
        }
        return "\(method) \(String(format: "%g", 100 * ratio)) %"
    }

    /// The plots by file name.
    public var svgs: [String: String] {
        var out: [String: String] = [:]
        let first = files[0]
        // Six layers spread over the depth, first and last included.
        let shown = Array(Set((0..<6).map { $0 * (first.layers - 1) / 5 })).sorted()
        var spectrum = LineChart(title: "\(first.label): eigenvalues of E[x xᵀ] at \(site), as shares of the trace",
                                 xLabel: "component k", yLabel: "λ_k / Σλ",
                                 series: shown.enumerated().map { i, layer in
                                     let values = first.eigenvalues[layer], total = values.reduce(0) { $0 + max($1, 0) }
                                     return LineChart.Series(label: "layer \(layer)", points: values.enumerated().map { (Double($0.offset + 1), max($0.element, 0) / total) },
                                                             colour: i)
                                 })
        spectrum.logY = true
        out["spectrum-\(site).svg"] = spectrum.svg
        var kept = LineChart(title: "\(first.label): variance kept by the k leading components at \(site)",
                             xLabel: "components kept (share of the width)", yLabel: "share of the trace",
                             series: shown.enumerated().map { i, layer in
                                 let values = first.eigenvalues[layer], total = values.reduce(0) { $0 + max($1, 0) }, width = Double(values.count)
                                 var sum = 0.0
                                 return LineChart.Series(label: "layer \(layer)", points: values.enumerated().map { k, v in
                                     sum += max(v, 0)
                                     return (Double(k + 1) / width, sum / total)
                                 }, colour: i)
                             })
        kept.yRange = 0...1
        out["variance-kept-\(site).svg"] = kept.svg

        let compared = files.filter { $0.drift != nil }
        if !compared.isEmpty {
            var drift = LineChart(title: "Drift from the dense model: relative error of the residual stream leaving each layer",
                                  xLabel: "layer", yLabel: "‖x − x_dense‖ / ‖x_dense‖",
                                  series: compared.enumerated().map { i, file in
                                      LineChart.Series(label: file.label + (file.meanKL.map { String(format: " (KL %.3f)", $0) } ?? ""),
                                                       points: file.drift!.residual.enumerated().map { (Double($0.offset), $0.element) }, colour: i)
                                  })
            drift.integerX = true
            drift.logY = true
            out["drift.svg"] = drift.svg
            var modules = LineChart(title: "Relative error of each module's contribution (attention solid, MLP dashed)",
                                    xLabel: "layer", yLabel: "relative error",
                                    series: compared.enumerated().flatMap { i, file in
                                        [LineChart.Series(label: "\(file.label) attention", points: file.drift!.attention.enumerated().map { (Double($0.offset), $0.element) }, colour: i),
                                         LineChart.Series(label: "\(file.label) MLP", points: file.drift!.mlp.enumerated().map { (Double($0.offset), $0.element) },
                                                          colour: i, dashed: true)]
                                    })
            modules.integerX = true
            modules.logY = true
            out["drift-modules.svg"] = modules.svg
        }
        var largest = LineChart(title: "Largest magnitude at \(site) per layer", xLabel: "layer", yLabel: "max |x|",
                                series: files.enumerated().map { i, file in
                                    LineChart.Series(label: file.label, points: file.largest.enumerated().map { (Double($0.offset), $0.element) }, colour: i)
                                })
        largest.integerX = true
        largest.logY = true
        out["largest-\(site).svg"] = largest.svg
        var outliers = LineChart(title: "Share of values at \(site) beyond the outlier threshold of their token", xLabel: "layer", yLabel: "share",
                                 series: files.enumerated().map { i, file in
                                     LineChart.Series(label: file.label, points: file.outlierShare.enumerated().map { (Double($0.offset), $0.element) }, colour: i)
                                 })
        outliers.integerX = true
        out["outliers-\(site).svg"] = outliers.svg
        return out
    }
}
