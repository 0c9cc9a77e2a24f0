"""Prefill speed of SmolLM2-135M: the harness against PyTorch eager float32, side by side.

Both run on the same machine with the same thread count on the same dequantized weights
(transformers' GGUF import, float32), 1x2048 and 4x512 random tokens, every logit
computed, median of --repeats timed runs after one warm-up. The harness side is
`intraslice bench prefill`, run as a subprocess after the torch runs.

    /work/venvs/ref/bin/python Baselines/speed/prefill_vs_torch.py --threads 2 > Baselines/speed/prefill_vs_torch.json
"""
import argparse, json, os, statistics, subprocess, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--gguf", default=os.path.expanduser("~/.cache/intraslice/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf"))
parser.add_argument("--intraslice", default=".build/release/intraslice")
args = parser.parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)

import torch, transformers
torch.set_num_threads(args.threads)
folder, name = os.path.split(args.gguf)
model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32).eval()

results = {"model": "smollm2-135m", "threads": args.threads, "repeats": args.repeats,
           "torch": torch.__version__, "transformers": transformers.__version__, "shapes": []}
for batch, seqlen in [(1, 2048), (4, 512)]:
    ids = torch.randint(0, model.config.vocab_size, (batch, seqlen), generator=torch.Generator().manual_seed(0))
    times = []
    with torch.inference_mode():
        for i in range(args.repeats + 1):
            start = time.perf_counter()
            model(ids).logits
            if i > 0:
                times.append(time.perf_counter() - start)
    torch_seconds = statistics.median(times)
    out = subprocess.run([args.intraslice, "bench", "prefill", "--model", "smollm2-135m", "--batch", str(batch),
                          "--seqlen", str(seqlen), "--threads", str(args.threads), "--repeats", str(args.repeats),
                          "--warmup", "1", "--json"], capture_output=True, text=True, check=True)
    harness = json.loads(out.stdout.strip().splitlines()[-1])
    results["shapes"].append({"batch": batch, "seqlen": seqlen, "torch_seconds_median": torch_seconds,
                              "intraslice_seconds_median": harness["seconds_median"],
                              "speedup_over_torch": torch_seconds / harness["seconds_median"],
                              "intraslice_fraction_of_gemm_ceiling": harness["fraction_of_ceiling"],
                              "gemm_ceiling_gflops": harness["gemm_ceiling_gflops"]})
print(json.dumps(results, indent=1))
