/// How a pruning ratio is spread over the layers and over attention and MLP.
public enum Allocation: String, Sendable, Codable, CaseIterable {
    /// Every layer and module pruned at the requested ratio (IntraSlice's ablation).
    case uniform
    /// IntraSlice's estimator on plain mask gradients (METHODS.md §4c).
    case global
    /// The same with each head's gradients rotated into its KV group's PCA basis first.
    case globalPCA = "global_pca"

    /// The IntraSlice code's default (`--global_layer_rate global`).
    public static let published = Allocation.global
}

/// The estimator's settings, with the IntraSlice code's defaults.
public struct AllocationSettings: Sendable, Codable, Equatable {
    public var allocation: Allocation
    /// Calibration sequences whose gradients are summed before squaring (the code: 8).
    public var groupSize: Int
    /// Units a head's channels are scored in (`--global_frac`, default 1: whole heads).
    public var unitsPerHead: Int
    /// Share of the ratio the MLP neurons carry before the attention units get the rest
    /// of the budget (`--global_bias`, default 1.0).
    public var mlpShare: Double
    /// Largest ratio any layer's attention or MLP gets; the excess goes to the others
    /// (the code: 0.8).
    public var cap: Double

    public init(allocation: Allocation = .published, groupSize: Int = 8, unitsPerHead: Int = 1, mlpShare: Double = 1.0, cap: Double = 0.8) {
        self.allocation = allocation
        self.groupSize = groupSize
        self.unitsPerHead = unitsPerHead
        self.mlpShare = mlpShare
        self.cap = cap
    }

    enum CodingKeys: String, CodingKey {
        case allocation, groupSize = "group_size", unitsPerHead = "units_per_head", mlpShare = "mlp_share", cap
    }
}

/// The fractions of one layer's attention and MLP parameters a method removes.
public struct ModuleRatios: Sendable, Codable, Equatable {
    public let attention: Double
    public let mlp: Double

    public init(attention: Double, mlp: Double) {
        self.attention = attention
        self.mlp = mlp
    }
}
