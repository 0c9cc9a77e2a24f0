/// A real model's architecture, by the values of its HuggingFace `config.json`: what
/// `intraslice synth` gives random weights, so that scale can be tested end to end
/// without the real weights.
public struct SyntheticShape: Sendable {
    /// The name `--shape` takes.
    public let name: String
    /// The HuggingFace repository whose `config.json` the values are from.
    public let reference: String
    /// The real values, vocabulary included (a synthetic checkpoint takes its tokenizer's).
    public let config: ModelConfig
    /// The real config's keys that `ModelConfig` does not read.
    let fields: HFConfigFields

    /// Llama-2 7B/13B, Llama-3 8B (not 3.1: no `rope_scaling`), Qwen2.5 7B (q/k/v
    /// biases), Phi-3-mini 4k (fused `qkv_proj` and `gate_up_proj`).
    public static let all: [SyntheticShape] = [
        llama("llama-2-7b", "meta-llama/Llama-2-7b-hf", hidden: 4096, intermediate: 11008, layers: 32, heads: 32, kvHeads: 32,
              vocab: 32000, theta: 10000, positions: 4096),
        llama("llama-2-13b", "meta-llama/Llama-2-13b-hf", hidden: 5120, intermediate: 13824, layers: 40, heads: 40, kvHeads: 40,
              vocab: 32000, theta: 10000, positions: 4096),
        llama("llama-3-8b", "meta-llama/Meta-Llama-3-8B", hidden: 4096, intermediate: 14336, layers: 32, heads: 32, kvHeads: 8,
              vocab: 128256, theta: 500000, positions: 8192),
        SyntheticShape(name: "qwen2.5-7b", reference: "Qwen/Qwen2.5-7B",
                       config: config("qwen2", hidden: 3584, intermediate: 18944, layers: 28, heads: 28, kvHeads: 4, vocab: 152064,
                                      eps: 1e-6, theta: 1_000_000, positions: 131072, slidingWindow: 131072,
                                      useSlidingWindow: false, maxWindowLayers: 28),
                       fields: HFConfigFields(architectures: ["Qwen2ForCausalLM"])),
        SyntheticShape(name: "phi-3-mini", reference: "microsoft/Phi-3-mini-4k-instruct",
                       config: config("phi3", hidden: 3072, intermediate: 8192, layers: 32, heads: 32, kvHeads: 32, vocab: 32064,
                                      eps: 1e-5, theta: 10000, positions: 4096, attentionBias: false, slidingWindow: 2047,
                                      originalMaxPositionEmbeddings: 4096),
                       fields: HFConfigFields(architectures: ["Phi3ForCausalLM"])),
    ]

    public static func named(_ name: String) -> SyntheticShape? { all.first { $0.name == name } }

    private static func llama(_ name: String, _ reference: String, hidden: Int, intermediate: Int, layers: Int, heads: Int,
                              kvHeads: Int, vocab: Int, theta: Double, positions: Int) -> SyntheticShape {
        SyntheticShape(name: name, reference: reference,
                       config: config("llama", hidden: hidden, intermediate: intermediate, layers: layers, heads: heads, kvHeads: kvHeads,
                                      vocab: vocab, eps: 1e-5, theta: theta, positions: positions, attentionBias: false),
                       fields: HFConfigFields(architectures: ["LlamaForCausalLM"]))
    }

    /// None of these models ties its head to the embedding; all use SiLU.
    private static func config(_ type: String, hidden: Int, intermediate: Int, layers: Int, heads: Int, kvHeads: Int, vocab: Int,
                               eps: Double, theta: Double, positions: Int, attentionBias: Bool? = nil,
                               slidingWindow: Int? = nil, useSlidingWindow: Bool? = nil, maxWindowLayers: Int? = nil,
                               originalMaxPositionEmbeddings: Int? = nil) -> ModelConfig {
        var config = ModelConfig(modelType: type, hiddenSize: hidden, intermediateSize: intermediate, numHiddenLayers: layers,
                                 numAttentionHeads: heads, numKeyValueHeads: kvHeads, vocabSize: vocab, rmsNormEps: eps, ropeTheta: theta,
                                 tieWordEmbeddings: false, maxPositionEmbeddings: positions)
        config.attentionBias = attentionBias
        config.slidingWindow = slidingWindow
        config.useSlidingWindow = useSlidingWindow
        config.maxWindowLayers = maxWindowLayers
        config.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
        config.hiddenAct = "silu"
        return config
    }
}

/// Keys of a HuggingFace `config.json` beyond those `ModelConfig` reads, written so that
/// a synthetic checkpoint's config is the real model's (HuggingFace tools read them).
struct HFConfigFields: Codable, Sendable {
    var architectures: [String]
    /// HuggingFace's initialisation standard deviation; 0.02 in all five models.
    var initializerRange = 0.02
    var torchDtype: String?
    var bosTokenId: Int?
    var eosTokenId: Int?

    enum CodingKeys: String, CodingKey {
        case architectures, initializerRange = "initializer_range", torchDtype = "torch_dtype"
        case bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
    }
}

/// A `config.json`: the harness's fields and the other HuggingFace keys, in one object.
struct HFConfigFile: Encodable {
    let config: ModelConfig
    let fields: HFConfigFields

    func encode(to encoder: Encoder) throws {
        try config.encode(to: encoder)
        try fields.encode(to: encoder)
    }
}
