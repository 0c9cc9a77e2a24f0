/// Where activations can be observed in every layer. Compression and statistics code
/// registers an observer and accumulates what it needs (covariances, norms) while the
/// forward pass runs, instead of storing all activations.
public enum CaptureSite: String, CaseIterable, Sendable {
    /// The residual stream entering the layer (input of the attention norm).
    case residualIn = "residual_in"
    /// The attention norm's output (input of Wq, Wk, Wv).
    case attentionNormOutput = "attention_norm_out"
    /// Queries, keys and values after biases, q/k norms and RoPE, as one row per token:
    /// the H query heads, then the G key heads, then the G value heads.
    case queryKeyValue = "qkv"
    /// The concatenated head outputs (input of Wo).
    case outputProjectionInput = "wo_input"
    /// The residual stream after attention (input of the MLP norm).
    case residualMid = "residual_mid"
    /// The MLP norm's output (input of Wgate and Wup).
    case mlpNormOutput = "mlp_norm_out"
    /// The gated activations (input of Wdown).
    case downProjectionInput = "wdown_input"
    /// The residual stream leaving the layer.
    case residualOut = "residual_out"
}

public protocol ActivationObserver: AnyObject {
    /// Whether `observe` should be called for this layer and site (others cost nothing).
    func wants(layer: Int, site: CaptureSite) -> Bool
    /// `rows` row vectors of `width` values, row-major; valid only during the call.
    func observe(layer: Int, site: CaptureSite, activations: UnsafeBufferPointer<Float>, rows: Int, width: Int) throws
}

/// A failure inside the forward pass that the user must hear about.
public struct ForwardError: Error, CustomStringConvertible {
    public let description: String
}
