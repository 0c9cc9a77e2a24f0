import Foundation
import LinAlg
import Transformer

/// KL(p_ref ‖ p) of the next-token distributions two models give on the same tokens:
/// Σ_v p_ref(v)·(log p_ref(v) − log p(v)) per row, in nats (`klDivergence`), from each
/// model's logits of its final hidden states, formed `blockRows` rows at a time (a full
/// vocabulary for every token would not fit in memory).
public enum NextTokenDivergence {
    public static func perRow(model: TransformerModel, hidden: Matrix<Float>, reference: TransformerModel, referenceHidden: Matrix<Float>,
                              blockRows: Int = 64) -> [Double] {
        precondition(hidden.rows == referenceHidden.rows, "\(hidden.rows) rows against \(referenceHidden.rows)")
        precondition(model.vocabularySize == reference.vocabularySize, "vocabularies of \(model.vocabularySize) and \(reference.vocabularySize)")
        let vocabulary = model.vocabularySize
        var result: [Double] = []
        result.reserveCapacity(hidden.rows)
        for start in stride(from: 0, to: hidden.rows, by: blockRows) {
            let rows = start..<min(hidden.rows, start + blockRows)
            let logits = model.logits(hidden, rows: rows), referenceLogits = reference.logits(referenceHidden, rows: rows)
            logits.elements.withUnsafeBufferPointer { q in
                referenceLogits.elements.withUnsafeBufferPointer { p in
                    for i in 0..<rows.count {
                        result.append(klDivergence(reference: p.baseAddress! + i * vocabulary, model: q.baseAddress! + i * vocabulary, count: vocabulary))
                    }
                }
            }
        }
        return result
    }
}
