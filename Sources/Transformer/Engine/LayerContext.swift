/// The residual-stream RMSNorm settings a model's layers share.
public struct StreamNorm: Sendable, Equatable {
    public let eps: Float
    /// What the sum of squares is divided by; nil means the vector's width. SliceGPT keeps
    /// the original hidden size here after slicing, so that a sliced vector is normalised
    /// as the full one was.
    public let divisor: Int?

    public init(eps: Float, divisor: Int?) {
        self.eps = eps
        self.divisor = divisor
    }
}

/// Everything a decoder layer needs from the call around it, stated explicitly so that one
/// layer (or a candidate module that no model holds yet) can run on its own: the norms, the
/// rows' sequence layout and RoPE table, the scratch memory, and who watches activations.
struct LayerContext {
    /// The layer's place in its model: the KV-cache slot, what observers see, messages.
    let index: Int
    let norm: StreamNorm
    let layout: RowLayout
    let rope: RoPETable
    let workspace: Workspace
    let observer: ActivationObserver?

    func observe(_ site: CaptureSite, _ values: UnsafePointer<Float>, rows: Int, width: Int) throws {
        guard let observer, observer.wants(layer: index, site: site) else { return }
        try observer.observe(layer: index, site: site, activations: UnsafeBufferPointer(start: values, count: rows * width),
                             rows: rows, width: width)
    }

    /// NaN or Inf in the residual stream would silently poison every later number.
    func checkFinite(_ stream: ResidualStream, after module: String) throws {
        let x = stream.values
        for i in 0..<(stream.rows * stream.width) where !x[i].isFinite {
            throw ForwardError(description: "layer \(index) produced NaN or Inf activations after its \(module) (token row \(i / stream.width))")
        }
    }
}
