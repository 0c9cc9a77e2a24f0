import Foundation
import H5Store
import LinAlg
import Pruning
import Transformer

/// `intraslice activations`: statistics of a model's activations at chosen sites of every
/// layer over windows of a text, in one layer-major pass (each layer's statistics are
/// finished and written before the next layer runs, so one layer's covariances are held
/// at a time). With a reference (the dense model), the reference runs beside it on the
/// same tokens and each layer also gets the drift of the residual stream and of each
/// module's output against it, and the run the KL divergence of the next-token
/// distributions. The HDF5 layout is the README's "Activation statistics" schema.
public struct ActivationRun {
    public struct Settings: Sendable {
        public var sites: [ActivationSite] = ActivationSite.allCases
        /// Outliers lie further than this many standard deviations from their token's mean.
        public var outlierSigma = 6.0
        public var topChannels = 16
        public var keepCovariance = false
        /// Run-wide token indices whose rows are kept at every site, ascending.
        public var sampleTokens: [Int] = []

        public init() {}
    }

    /// A model as the run needs it: its layers may be streamed.
    public struct Subject {
        public let model: TransformerModel
        public let layers: LayerSource
        /// Maps the model's residual stream at a layer's input, middle or output back to the
        /// reference's coordinates (SliceGPT's rotated, sliced stream); nil: already there.
        public let streamMap: ResidualStreamMap?

        public init(model: TransformerModel, layers: LayerSource, streamMap: ResidualStreamMap? = nil) {
            self.model = model
            self.layers = layers
            self.streamMap = streamMap
        }
    }

    /// Per layer, the drift of a model against its reference (`/comparison`).
    public struct LayerDrift: Sendable {
        public var residual = StreamDrift(), attention = StreamDrift(), mlp = StreamDrift()
    }

    public struct Summary: Sendable {
        public let tokens: Int
        public let drift: [LayerDrift]
        /// Per token (nil without a reference).
        public let nextTokenKL: [Double]?
        public let seconds: Double
    }

    public let subject: Subject
    public let reference: Subject?
    public let settings: Settings

    public init(subject: Subject, reference: Subject? = nil, settings: Settings) {
        self.subject = subject
        self.reference = reference
        self.settings = settings
    }

    /// Runs `calls` (each one or more windows of `sequenceLength` tokens) and writes the
    /// statistics into `writer` under `/activations` (and `/reference_activations`,
    /// `/comparison` with a reference).
    public func run(calls: [[Int32]], sequenceLength: Int, writer: H5Writer, progress: (Int) -> Void = { _ in }) throws -> Summary {
        let start = monotonicSeconds()
        let tokens = calls.reduce(0) { $0 + $1.count }
        if let reference {
            guard reference.layers.layerCount == subject.layers.layerCount else {
                throw ActivationRunError("the model has \(subject.layers.layerCount) layers and the reference \(reference.layers.layerCount)")
            }
        }
        let pass = try LayerMajorPass(model: subject.model, calls: calls, sequenceLength: sequenceLength, layers: subject.layers)
        let referencePass = try reference.map { try LayerMajorPass(model: $0.model, calls: calls, sequenceLength: sequenceLength, layers: $0.layers) }
        var drift: [LayerDrift] = []
        // A layer's spectra (LAPACK, one thread) are computed while the next layer runs;
        // its datasets are written once they are done.
        var pending: (index: Int, sites: [ActivationSite: SiteStatistics], reference: [ActivationSite: SiteStatistics]?, job: SpectrumJob)?
        func flush() throws {
            guard let finished = pending else { return }
            try finished.job.wait()
            try write(finished.sites, layer: finished.index, under: "/activations", writer: writer)
            if let sites = finished.reference { try write(sites, layer: finished.index, under: "/reference_activations", writer: writer) }
            pending = nil
        }
        for index in 0..<subject.layers.layerCount {
            let collector = try self.collector(index, of: subject)
            // The streams entering and after attention are kept only to compare with the reference.
            let inputs = pass.states, middles = MiddleCapture(layer: index, next: collector, keeps: reference != nil)
            try pass.advance(observer: middles)
            var referenceSites: [ActivationSite: SiteStatistics]?
            if let reference, let referencePass {
                let referenceCollector = try self.collector(index, of: reference)
                let referenceInputs = referencePass.states, referenceMiddles = MiddleCapture(layer: index, next: referenceCollector, keeps: true)
                try referencePass.advance(observer: referenceMiddles)
                referenceSites = referenceCollector.statistics
                var layerDrift = LayerDrift()
                for call in calls.indices {
                    let map = { (site: ResidualSite, x: Matrix<Float>) in subject.streamMap?.toReference(x, layer: index, site: site) ?? x }
                    let x = (map(.input, inputs[call]), map(.middle, middles.rows[call]), map(.output, pass.states[call]))
                    let r = (referenceInputs[call], referenceMiddles.rows[call], referencePass.states[call])
                    layerDrift.residual.add(x.2, reference: r.2)
                    layerDrift.attention.add(x.1 - x.0, reference: r.1 - r.0)
                    layerDrift.mlp.add(x.2 - x.1, reference: r.2 - r.1)
                }
                drift.append(layerDrift)
            }
            try flush()
            pending = (index, collector.statistics, referenceSites,
                       SpectrumJob(Array(collector.statistics.values) + Array((referenceSites ?? [:]).values)))
            progress(index + 1)
        }
        try flush()
        var kl: [Double]?
        if let reference, let referencePass {
            kl = zip(pass.finalHidden(), referencePass.finalHidden()).flatMap { hidden, referenceHidden in
                NextTokenDivergence.perRow(model: subject.model, hidden: hidden, reference: reference.model, referenceHidden: referenceHidden)
            }
            try writeComparison(drift, kl: kl!, writer: writer)
        }
        try writer.setAttributes(["sites": .strings(settings.sites.map(\.rawValue)), "tokens": .int(Int64(tokens)),
                                  "sequence_length": .int(Int64(sequenceLength)), "layers": .int(Int64(subject.layers.layerCount)),
                                  "outlier_sigma": .double(settings.outlierSigma), "top_channels": .int(Int64(settings.topChannels)),
                                  "covariance_kept": .int(settings.keepCovariance ? 1 : 0)], on: "/activations")
        if !settings.sampleTokens.isEmpty {
            try writer.write(settings.sampleTokens.map { Int64($0) }, shape: [settings.sampleTokens.count], to: "/activations/sample_tokens")
            let flat = calls.flatMap { $0 }
            try writer.write(settings.sampleTokens.map { Int64(flat[$0]) }, shape: [settings.sampleTokens.count], to: "/activations/sample_token_ids")
        }
        return Summary(tokens: tokens, drift: drift, nextTokenKL: kl, seconds: monotonicSeconds() - start)
    }

    private func collector(_ index: Int, of model: Subject) throws -> ActivationCollector {
        ActivationCollector(layer: index, attention: try model.layers.layer(index).attention, sites: settings.sites,
                            outlierSigma: settings.outlierSigma, sampleTokens: settings.sampleTokens)
    }

    private func write(_ sites: [ActivationSite: SiteStatistics], layer: Int, under root: String, writer: H5Writer) throws {
        for site in settings.sites {
            guard let statistics = sites[site] else { continue }
            try statistics.write(to: writer, group: "\(root)/\(layerGroup(layer))/\(site.rawValue)", topChannels: settings.topChannels,
                                 keepCovariance: settings.keepCovariance)
        }
    }

    private func writeComparison(_ drift: [LayerDrift], kl: [Double], writer: H5Writer) throws {
        let n = drift.count
        for (name, part) in [("residual", \LayerDrift.residual), ("attention", \LayerDrift.attention), ("mlp", \LayerDrift.mlp)] {
            try writer.write(drift.map { $0[keyPath: part].relativeError }, shape: [n], to: "/comparison/\(name)_relative_error")
            try writer.write(drift.map { $0[keyPath: part].meanCosine }, shape: [n], to: "/comparison/\(name)_cosine")
        }
        try writer.write(kl, shape: [kl.count], to: "/comparison/next_token_kl")
        try writer.setAttributes(["mean_next_token_kl": .double(kl.reduce(0, +) / Double(max(1, kl.count))),
                                  "stream_mapped_back": .int(subject.streamMap == nil ? 0 : 1)], on: "/comparison")
    }
}

extension ActivationRun {
    /// The first `windows` windows of `sequenceLength` ids, `batch` windows per forward call.
    public static func calls(_ ids: [Int32], windows: Int, sequenceLength: Int, batch: Int) -> [[Int32]] {
        stride(from: 0, to: windows, by: batch).map { first in Array(ids[(first * sequenceLength)..<(min(windows, first + batch) * sequenceLength)]) }
    }
}

public struct ActivationRunError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Copies each call's residual stream after attention (the MLP norm's input) when it
/// `keeps` them, and passes every observation on to `next`.
final class MiddleCapture: ActivationObserver {
    let layer: Int
    let next: ActivationObserver
    let keeps: Bool
    private(set) var rows: [Matrix<Float>] = []

    init(layer: Int, next: ActivationObserver, keeps: Bool) {
        self.layer = layer
        self.next = next
        self.keeps = keeps
    }

    func wants(layer: Int, site: CaptureSite) -> Bool { (keeps && site == .residualMid) || next.wants(layer: layer, site: site) }

    func observe(layer: Int, site: CaptureSite, activations: UnsafeBufferPointer<Float>, rows: Int, width: Int) throws {
        if keeps && site == .residualMid { self.rows.append(Matrix(rows: rows, cols: width, elements: Array(activations))) }
        if next.wants(layer: layer, site: site) { try next.observe(layer: layer, site: site, activations: activations, rows: rows, width: width) }
    }
}

/// Computes sites' spectra on a thread of its own (LAPACK runs on one thread), widest
/// first, so that they overlap the next layer's pass instead of leaving a core idle.
final class SpectrumJob: @unchecked Sendable {
    private let sites: [SiteStatistics]
    private let done = DispatchSemaphore(value: 0)
    private var failure: Error?

    init(_ sites: [SiteStatistics]) {
        self.sites = sites.sorted { $0.width > $1.width }
        let thread = Thread { [self] in
            for site in self.sites {
                do { try site.computeSpectrum() } catch { failure = error; break }
            }
            done.signal()
        }
        thread.start()
    }

    /// Waits for the spectra; throws the first failure.
    func wait() throws {
        done.wait()
        if let failure { throw failure }
    }
}
