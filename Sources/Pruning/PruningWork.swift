import LinAlg
import Transformer

extension PruningJob {
    /// The work of this prune on a model with `config` whose weight files hold
    /// `checkpointBytes`, for `intraslice plan`: hashing the checkpoint, reading it (twice
    /// when streamed: the check at open, then each layer as it is pruned), the method's
    /// passes over the calibration rows and its statistics per layer, and writing the
    /// pruned folder in Float32. The per-layer counts follow the methods' code: which
    /// passes they run and which products and factorisations they compute.
    public func work(_ config: ModelConfig, checkpointBytes: Int, streamed: Bool, spill: Bool = false) -> RunWork {
        var work = RunWork()
        let footprint = ModelFootprint(config: config)
        work.hashedBytes = Double(checkpointBytes)
        work.loadedBytes = Double(checkpointBytes) * (streamed ? 2 : 1)
        let keptDecoder = Double(footprint.decoderParameters) * (1 - ratio.value)
        work.writtenBytes = 4 * (keptDecoder + Double(footprint.embeddingParameters + footprint.headParameters))

        let layers = Double(config.numHiddenLayers)
        let d = Double(config.hiddenSize), f = Double(config.intermediateSize), r = ratio.value
        let a = Double(config.numAttentionHeads * config.resolvedHeadDim)
        let qkv = Double((config.numAttentionHeads + 2 * config.numKeyValueHeads) * config.resolvedHeadDim)
        guard let calibration else { return work }
        let t = Double(calibration.samples * calibration.seqlen)
        let forward = ForwardWork(config: config)
        let attentionCore = forward.attentionFlops(sequences: calibration.samples, seqlen: calibration.seqlen) / layers
        // One layer's passes over the calibration rows, by part.
        let queryKeyValue = 2 * t * d * qkv, outputProjection = 2 * t * a * d
        let gateUp = 4 * t * d * f, down = 2 * t * f * d
        let aKept = a * (1 - r), fKept = f * (1 - r), fDropped = f - fKept

        if spill {
            // Per layer, the stream, the stream after attention, Wo inputs before and after
            // pruning and the Wdown inputs go to the spill file once and are read back about
            // twice.
            let spilled = layers * 4 * t * (3 * d + 2 * a + f)
            work.writtenBytes += spilled
            work.loadedBytes += 2 * spilled
        }
        if runsGradientPass {
            // The allocation's reverse pass, one window at a time: the forward pass; Q, K, V
            // and gate/up again; input gradients of every linear (as many flops as its
            // forward); the attention's reverse (P again, dP, dQ, dK, dV: 2.5 forwards of
            // it); the head forward and back.
            let head = 2 * 2 * t * Double(config.vocabSize) * d
            work.forwardFlops += layers * (3 * queryKeyValue + 3.5 * attentionCore + 2 * outputProjection + 3 * gateUp + 2 * down) + head
        }
        switch method.name {
        case "intraslice":
            // Each module's recorded error: from Gram sums, or the unpruned module again.
            let norms = config.architecture?.huggingFace.layer
            let attentionFromSums = IntraSlice.errorFromGramSums(width: Int(a), rows: Int(t), linear: norms?.postAttentionNorm == nil)
            let mlpFromSums = IntraSlice.errorFromGramSums(width: Int(f), rows: Int(t), linear: norms?.postMLPNorm == nil)
            func sums(_ n: Double, kept: Double) -> Double { 2 * d * (kept * kept + kept * n + n * n) }
            // Attention twice (unpruned, then with fewer heads and rotary pairs: about 1 − r
            // of the work), Wo for the pruned middle, X̃·P; Gram sums of the Wo inputs
            // (observer, fit, cross); gate/up once, Wdown's Gram sum, Wdown for the outputs.
            work.forwardFlops = layers * ((2 - r) * (queryKeyValue + attentionCore) + outputProjection + 2 * t * a * aKept
                                          + t * a * a + t * aKept * aKept + 2 * t * aKept * a
                                          + gateUp + t * f * f + 2 * t * fKept * d
                                          + (attentionFromSums ? 0 : outputProjection) + (mlpFromSums ? 0 : down))
            // V/O fold: Pᵀ·C·P, Pᵀ·R and Wo·Fᵀ; MLP compensation Wdown[:, P]·Tᵀ; errors from sums.
            work.doubleFlops = layers * (2 * a * a * aKept + 2 * a * aKept * aKept + 2 * a * aKept * a + 2 * d * a * aKept
                                         + 2 * d * fDropped * fKept
                                         + (attentionFromSums ? sums(a, kept: aKept) : 0) + (mlpFromSums ? sums(f, kept: fKept) : 0))
            // Ridge system of the fold; C_KK factored and solved for C_KP.
            work.lapackFlops = layers * (aKept * aKept * aKept / 3 + 2 * aKept * aKept * a
                                           + fKept * fKept * fKept / 3 + 2 * fKept * fKept * fDropped)
            // The float32 and float64 copies of Wdown's input sum and the blocks taken out of
            // it, the Wo-input sums, and the layer's activations.
            work.freshBytes = layers * (12 * f * f + 8 * (fKept * fKept + 2 * fKept * fDropped) + 8 * 4 * a * a
                                        + 4 * t * (4 * d + 3 * a + 2 * f))
        case "wanda":
            // Attention, Wo over the kept heads, gate/up, Wdown over the kept channels.
            work.forwardFlops = layers * (queryKeyValue + attentionCore + outputProjection * (1 - r) + gateUp + down * (1 - r))
            work.freshBytes = layers * 4 * t * (3 * d + a + f)
        case "slicegpt":
            // The layer twice (signal and rotated), the stream's Gram sums twice, one
            // eigendecomposition per site (about 9 d³ flops), and the weights rotated.
            work.forwardFlops = layers * (2 * (queryKeyValue + attentionCore + outputProjection + gateUp + down) + 2 * t * d * d
                                          + 2 * d * Double(footprint.layerParameters.max() ?? 0))
            work.lapackFlops = layers * 2 * 9 * d * d * d
            work.freshBytes = layers * (4 * t * (4 * d + a + f) + 3 * 8 * d * d)
        default:
            break
        }
        return work
    }
}
