import Foundation

/// The work of a planned run, by the kind of machine rate it is bound by, and the seconds
/// it takes at measured rates (`MachineRates`). Each command states its own work
/// (`PruningJob.work`, `Perplexity.work`) from the model's config alone.
public struct RunWork: Sendable {
    /// Float32 products of forward passes and calibration statistics.
    public var forwardFlops = 0.0
    /// Float64 products of the methods' statistics (on the workers).
    public var doubleFlops = 0.0
    /// LAPACK factorisations, solves and eigendecompositions (one thread), at the rate of a
    /// Cholesky factorisation.
    public var lapackFlops = 0.0
    /// Large temporaries written to fresh memory (page faults included).
    public var freshBytes = 0.0
    public var hashedBytes = 0.0
    /// Checkpoint bytes read into Float32 (a streamed run reads its layers more than once).
    public var loadedBytes = 0.0
    public var writtenBytes = 0.0

    public init() {}

    /// A forward pass runs its products at this share of the sgemm rate: what the engine
    /// reached on SmolLM2 prefill in `Results/speed` (77 % at 1 × 2048, 84 % at 4 × 512),
    /// the rest being attention's softmax, norms and activations.
    public static let forwardShareOfSgemm = 0.8

    /// Seconds by part at `rates`; their sum is the prediction.
    public func seconds(at rates: MachineRates) -> [String: Double] {
        [
            "forward": forwardFlops / (rates.sgemmFlopsPerSecond * Self.forwardShareOfSgemm),
            "float64_products": doubleFlops / rates.dgemmFlopsPerSecond,
            "lapack": lapackFlops / rates.lapackFlopsPerSecond,
            "fresh_memory": freshBytes / rates.freshMemoryBytesPerSecond,
            "sha256": hashedBytes / rates.sha256BytesPerSecond,
            "load": loadedBytes / rates.loadBytesPerSecond,
            "write": writtenBytes / rates.writeBytesPerSecond,
        ]
    }
}

/// Floating-point operations of forward passes, from a config (a pruned checkpoint's
/// per-layer shapes included), for plans made before anything is loaded.
public struct ForwardWork: Sendable {
    public let config: ModelConfig

    public init(config: ModelConfig) { self.config = config }

    /// Matrix products of the decoder layers over `tokens` rows: two per weight.
    public func layerProductFlops(tokens: Int) -> Double {
        2 * Double(ModelFootprint(config: config).decoderParameters) * Double(tokens)
    }

    /// Q·Kᵀ and P·V of every layer over `sequences` causal sequences of `seqlen` tokens.
    public func attentionFlops(sequences: Int, seqlen: Int) -> Double {
        let pairs = Double(seqlen) * Double(seqlen + 1) / 2
        let headDim = config.resolvedHeadDim
        let perPair = (0..<config.numHiddenLayers).reduce(0.0) { total, index in
            let spec = config.prunedLayers?[index]
            let heads = spec?.numAttentionHeads ?? config.numAttentionHeads
            return total + Double(heads) * 2 * Double((spec?.qkHeadDim ?? headDim) + (spec?.vHeadDim ?? headDim))
        }
        return Double(sequences) * pairs * perPair
    }

    /// The LM head over `rows` rows.
    public func headFlops(rows: Int) -> Double { 2 * Double(config.vocabSize) * Double(config.hiddenSize) * Double(rows) }

    /// A whole forward pass with every row's logits.
    public func prefillFlops(sequences: Int, seqlen: Int) -> Double {
        layerProductFlops(tokens: sequences * seqlen) + attentionFlops(sequences: sequences, seqlen: seqlen) + headFlops(rows: sequences * seqlen)
    }
}
