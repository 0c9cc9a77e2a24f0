import H5Store

/// The resume log an evaluation keeps beside its results file: `RUN.h5.resume.jsonl`.
func resumeLogPath(_ output: String) -> String { output + ".resume.jsonl" }

/// Checks a file `--output` (with `resumable`, also the resume log beside it) by
/// `OutputFile`'s rule before a model is loaded or anything computed, so that a path that
/// cannot be written is reported at once rather than after the run.
func checkOutputFile(_ output: String?, resumable: Bool = false) throws {
    guard let output else { return }
    _ = try OutputFile(output)
    if resumable { _ = try OutputFile(resumeLogPath(output)) }
}
