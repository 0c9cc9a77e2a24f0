import LinAlg

/// The gated MLP non-linearities.
public enum Activation: String, Sendable {
    /// SwiGLU: silu(gate) · up (Llama, Qwen2, Phi-3).
    case silu
    /// GeGLU with the tanh approximation of GELU (Gemma 3's gelu_pytorch_tanh).
    case geluTanh
}

/// The gated MLP: out = Wdown·(act(Wgate·x) ⊙ Wup·x); gate and up fused into one matrix.
public struct MLP: Sendable {
    /// [2F, D]: the F gate rows, then the F up rows.
    public var wGateUp: Matrix<Float>
    /// [D, F]
    public var wDown: Matrix<Float>
    public var activation: Activation

    public init(wGate: Matrix<Float>, wUp: Matrix<Float>, wDown: Matrix<Float>, activation: Activation) {
        precondition(wGate.rows == wUp.rows && wGate.cols == wUp.cols && wDown.cols == wGate.rows, "MLP weights do not match")
        wGateUp = Matrix(rows: 2 * wGate.rows, cols: wGate.cols, elements: wGate.elements + wUp.elements)
        self.wDown = wDown
        self.activation = activation
    }

    public var width: Int { wDown.cols }
    public var parameterCount: Int { wGateUp.elements.count + wDown.elements.count }
}
