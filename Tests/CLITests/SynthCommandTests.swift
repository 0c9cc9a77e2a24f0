import Foundation
import H5Store
import ModelIO
import TestSupport
import XCTest

/// `intraslice synth` at a real width: one Llama-2-7B layer (4096/11008) with the
/// SmolLM2 tokenizer, bf16, in three shards. Loading it and running it at this width
/// (4 GB as Float32) is `Scripts/synth-check.sh`'s; the scaled-down families load and run
/// in `SyntheticCheckpointTests`.
final class SynthCommandTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try makeTemporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProgram(CLITests.executable, arguments)
    }

    func testARealWidthLayerIsWrittenInHuggingFacesShardedLayout() throws {
        guard AssetRegistry.asset(named: "smollm2-135m", kind: .model)?.isPresent == true else {
            throw XCTSkip("smollm2-135m not cached; run Scripts/fetch-assets.sh")
        }
        let output = folder.appendingPathComponent("llama").path
        let result = try run(["synth", "--shape", "llama-2-7b", "--layers", "1", "--seed", "3", "--max-shard-size", "500MB",
                              "--output", output, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try lastJSONObject(result.stdout)
        let shards = ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"]
        XCTAssertEqual(json["shards"] as? [String], shards)
        XCTAssertEqual(json["vocab_size"] as? Int, 49152)
        XCTAssertEqual(json["parameters"] as? Int, 2 * 49152 * 4096 + 4 * 4096 * 4096 + 3 * 4096 * 11008 + 3 * 4096)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: output).sorted(),
                       ["config.json"] + shards + ["model.safetensors.index.json", "synth.json"])

        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + "/config.json"))) as? [String: Any])
        for (key, value) in ["hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 1, "num_attention_heads": 32,
                             "num_key_value_heads": 32, "vocab_size": 49152, "max_position_embeddings": 4096] {
            XCTAssertEqual(config[key] as? Int, value, key)
        }
        XCTAssertEqual(config["intraslice_tokenizer_source"] as? String, "smollm2-135m")
        XCTAssertEqual(config["torch_dtype"] as? String, "bfloat16")
        XCTAssertEqual(config["architectures"] as? [String], ["LlamaForCausalLM"])
        let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + "/synth.json"))) as? [String: Any])
        XCTAssertEqual(record["seed"] as? Int, 3)
        XCTAssertEqual(record["reference_num_hidden_layers"] as? Int, 32)

        let checkpoint = try SafetensorsCheckpoint(folder: output)
        for (name, shape) in ["model.embed_tokens.weight": [49152, 4096], "lm_head.weight": [49152, 4096],
                              "model.layers.0.self_attn.q_proj.weight": [4096, 4096], "model.layers.0.mlp.gate_proj.weight": [11008, 4096],
                              "model.layers.0.mlp.down_proj.weight": [4096, 11008], "model.norm.weight": [4096]] {
            let (_, info) = try XCTUnwrap(checkpoint.tensor(named: name), name)
            XCTAssertEqual(info.shape, shape, name)
            XCTAssertEqual(info.dtype, .bf16, name)
        }
        XCTAssertEqual(checkpoint.tensorNames.count, 12)
        XCTAssertTrue(OutputFolder.isHarnessFolder(output), "--overwrite may replace it")
        try assertOneLineError(try run(["synth", "--shape", "llama-2-7b", "--output", output]), contains: "already exists")
    }

    func testBadOptionsAreRefusedBeforeAnythingIsWritten() throws {
        let output = folder.appendingPathComponent("out").path
        for (arguments, message) in [
            (["--shape", "llama-9b"], "--shape must be one of llama-2-7b, llama-2-13b, llama-3-8b, qwen2.5-7b, phi-3-mini, got 'llama-9b'"),
            (["--shape", "llama-2-7b", "--dtype", "int8"], "--dtype must be bf16, fp16 or fp32, got 'int8'"),
            (["--shape", "qwen2.5-7b", "--layers", "29"], "--layers must be between 1 and 28 (qwen2.5-7b's layers), got 29"),
            (["--shape", "llama-2-7b", "--layers", "0"], "--layers must be between 1 and 32"),
            (["--shape", "llama-2-7b", "--max-shard-size", "5XB"], "--max-shard-size must be a positive size"),
            (["--shape", "llama-2-7b", "--max-shard-size", "0"], "--max-shard-size must be a positive size"),
            (["--shape", "llama-2-7b", "--tokenizer", folder.appendingPathComponent("none.gguf").path], "none.gguf"),
        ] {
            try assertOneLineError(try run(["synth"] + arguments + ["--output", output]), contains: message)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
    }
}
