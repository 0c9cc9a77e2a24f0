import Foundation
import H5Store
import LinAlg
import Transformer

/// What `intraslice activations` costs against a plain forward pass over the same tokens
/// (`bench activations`): in alternating rounds (`PairedLatency.alternate`), each call's
/// final hidden states by the resident forward, then the whole activation run over the
/// same calls (every statistic of the chosen sites, second moments and their spectra
/// included, written to a scratch file that is removed).
public enum ActivationBenchmark {
    /// `baseline`: the forward pass; `model`: the activation run; `ratios`: forward / run
    /// per round (the run's cost is the inverse).
    public static func run(model: TransformerModel, calls: [[Int32]], sequenceLength: Int, settings: ActivationRun.Settings, scratch: URL,
                           warmup: Int, repeats: Int) throws -> PairedLatency.Result {
        let run = ActivationRun(subject: ActivationRun.Subject(model: model, layers: ResidentLayers(model.layers)), settings: settings)
        defer { try? FileManager.default.removeItem(at: scratch) }
        return try PairedLatency.alternate(warmup: warmup, repeats: repeats, baseline: {
            for call in calls { _ = try model.hiddenStates(tokens: call, batch: call.count / sequenceLength) }
        }, model: {
            let writer = try H5Writer(path: scratch.path)
            _ = try run.run(calls: calls, sequenceLength: sequenceLength, writer: writer)
            try writer.commit()
        })
    }
}
