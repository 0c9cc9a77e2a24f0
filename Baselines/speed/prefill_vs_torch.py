"""Prefill speed of SmolLM2-135M: the harness against PyTorch float32, alternating.

Both run on the same machine with the same thread count on the same dequantized weights
(transformers' GGUF import, float32, its default SDPA attention), 1x2048 and 4x512 random
tokens, every logit computed. The two sides take turns: each round times --repeats
PyTorch forwards in this process, then runs `intraslice bench prefill` (--repeats timed
forwards after one warm-up, with the sgemm ceiling measured in the same process), so that
a change in machine load hits both sides alike. Medians over all rounds; the harness's
system-time share and fraction of the ceiling come from its own JSON.

    /work/venvs/ref/bin/python Baselines/speed/prefill_vs_torch.py --threads 2 > Results/speed/prefill_vs_torch.json
"""
import argparse, json, os, platform, resource, statistics, subprocess, time

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--gguf", default=os.path.expanduser("~/.cache/intraslice/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf"))
parser.add_argument("--intraslice", default=".build/release/intraslice")
args = parser.parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)

import torch, transformers
torch.set_num_threads(args.threads)
folder, name = os.path.split(args.gguf)
model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32,
                                                          attn_implementation="sdpa").eval()


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


results = {"model": "smollm2-135m", "threads": args.threads, "repeats_per_round": args.repeats, "rounds": args.rounds,
           "torch": torch.__version__, "transformers": transformers.__version__, "attention": model.config._attn_implementation,
           "machine": platform.processor() or platform.machine(), "shapes": []}
for batch, seqlen in [(1, 2048), (4, 512)]:
    ids = torch.randint(0, model.config.vocab_size, (batch, seqlen), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        model(ids).logits  # warm-up
    torch_times, torch_user, torch_system, harness = [], 0.0, 0.0, []
    for _ in range(args.rounds):
        with torch.inference_mode():
            user0, system0 = cpu_seconds()
            for _ in range(args.repeats):
                start = time.perf_counter()
                model(ids).logits
                torch_times.append(time.perf_counter() - start)
            user1, system1 = cpu_seconds()
        torch_user += user1 - user0
        torch_system += system1 - system0
        out = subprocess.run([args.intraslice, "bench", "prefill", "--model", "smollm2-135m", "--batch", str(batch),
                              "--seqlen", str(seqlen), "--threads", str(args.threads), "--repeats", str(args.repeats),
                              "--warmup", "1", "--json"], capture_output=True, text=True, check=True)
        harness.append(json.loads(out.stdout.strip().splitlines()[-1]))
    torch_seconds = statistics.median(torch_times)
    harness_seconds = statistics.median(h["seconds_median"] for h in harness)
    results["shapes"].append({
        "batch": batch, "seqlen": seqlen,
        "torch_seconds_median": torch_seconds, "torch_system_time_fraction": torch_system / (torch_user + torch_system),
        "intraslice_seconds_median": harness_seconds,
        "speedup_over_torch": torch_seconds / harness_seconds,
        "intraslice_fraction_of_gemm_ceiling": statistics.median(h["fraction_of_ceiling"] for h in harness),
        "intraslice_system_time_fraction": max(h["system_time_fraction"] for h in harness),
        "gemm_ceiling_gflops": statistics.median(h["gemm_ceiling_gflops"] for h in harness),
        "cpu": harness[0]["cpu"], "blas_core": harness[0]["blas_core"],
        "intraslice_rounds": harness,
    })
print(json.dumps(results, indent=1))
