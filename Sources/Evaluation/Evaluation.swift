// The evaluation layer: perplexity, zero-shot tasks and latency, results into HDF5.
// Filled by the "Real models" and "Evaluation suite" issues.
