import Foundation
import LinAlg
import Transformer

/// A site `intraslice activations` reports on: a capture site of the forward pass, or the
/// query or key part of the queries, keys and values it captures after RoPE.
public enum ActivationSite: String, CaseIterable, Sendable, Codable {
    case residualIn = "residual_in"
    case residualMid = "residual_mid"
    case attentionNormOut = "attention_norm_out"
    case mlpNormOut = "mlp_norm_out"
    case woInput = "wo_input"
    case wdownInput = "wdown_input"
    case query
    case key

    var captureSite: CaptureSite {
        switch self {
        case .residualIn: return .residualIn
        case .residualMid: return .residualMid
        case .attentionNormOut: return .attentionNormOutput
        case .mlpNormOut: return .mlpNormOutput
        case .woInput: return .outputProjectionInput
        case .wdownInput: return .downProjectionInput
        case .query, .key: return .queryKeyValue
        }
    }

    /// "all", or site names separated by commas, each once; in the schema's order.
    public static func list(_ text: String) throws -> [ActivationSite] {
        if text == "all" { return allCases }
        let chosen = try text.split(separator: ",").map { name in
            let name = name.trimmingCharacters(in: .whitespaces)
            guard let site = ActivationSite(rawValue: name) else {
                throw ActivationRunError("unknown site '\(name)' (known: \(allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return site
        }
        guard !chosen.isEmpty, Set(chosen).count == chosen.count else { throw ActivationRunError("name each site once, got '\(text)'") }
        return allCases.filter(chosen.contains)
    }

    /// The columns of the captured rows that are this site's, in a layer with `attention`.
    func columns(in attention: Attention, capturedWidth: Int) -> Range<Int> {
        switch self {
        case .query: return 0..<attention.queryWidth
        case .key: return attention.queryWidth..<(attention.queryWidth + attention.keyWidth)
        default: return 0..<capturedWidth
        }
    }
}

/// Collects `SiteStatistics` of chosen sites of one layer while it runs: the observer of
/// its forward calls, which must bring the tokens in run order (a `LayerMajorPass` runs
/// one layer over every call before the next, so only one layer's covariances are held).
public final class ActivationCollector: ActivationObserver {
    public let layer: Int
    public let sites: [ActivationSite]
    let outlierSigma: Double
    /// Run-wide token index → row among the samples.
    let sampleSlots: [Int: Int]
    private let attention: Attention
    private let wanted: Set<CaptureSite>
    /// Made on the first rows, when the width is known.
    private(set) var statistics: [ActivationSite: SiteStatistics] = [:]

    public init(layer: Int, attention: Attention, sites: [ActivationSite], outlierSigma: Double = 6, sampleTokens: [Int] = []) {
        self.layer = layer
        self.attention = attention
        self.sites = sites
        self.outlierSigma = outlierSigma
        sampleSlots = Dictionary(uniqueKeysWithValues: sampleTokens.enumerated().map { ($1, $0) })
        wanted = Set(sites.map(\.captureSite))
    }

    public func wants(layer: Int, site: CaptureSite) -> Bool { layer == self.layer && wanted.contains(site) }

    public func observe(layer: Int, site: CaptureSite, activations: UnsafeBufferPointer<Float>, rows: Int, width: Int) throws {
        for reported in sites where reported.captureSite == site {
            let columns = reported.columns(in: attention, capturedWidth: width)
            let target = statistics[reported] ?? SiteStatistics(width: columns.count, outlierSigma: outlierSigma, sampleSlots: sampleSlots)
            statistics[reported] = target
            try target.add(activations.baseAddress! + columns.lowerBound, rows: rows, stride: width, label: "layer \(layer) \(reported.rawValue)")
        }
    }
}
