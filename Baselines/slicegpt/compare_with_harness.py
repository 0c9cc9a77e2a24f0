#!/usr/bin/env python3
"""Puts the harness's SliceGPT perplexities beside the reference's (reference_slicegpt.py).

usage: compare_with_harness.py REFERENCE.json RUNS_DIR OUTPUT.json
RUNS_DIR holds, per sparsity s, `prune-s.json` and `ppl-s.json`: the last JSON lines of
  intraslice prune --method slicegpt --ratio s --cal-samples 32 --cal-seqlen 512 --cal-sampling sequential --output DIR --json
  intraslice eval ppl --model DIR --seqlen 512 --windows 64 --json
Standard library only.
"""
import json
import sys


def main():
    reference_path, runs, output = sys.argv[1:4]
    reference = json.load(open(reference_path))
    rows = []
    for entry in reference["sliced"]:
        s = entry["sparsity"]
        tag = f"{s:g}"
        prune = json.load(open(f"{runs}/prune-{tag}.json"))
        ppl = json.load(open(f"{runs}/ppl-{tag}.json"))
        ours = ppl["ppl"]
        rows.append({
            "sparsity": s,
            "width_reference": entry["width"],
            "ppl_reference": entry["ppl"],
            "ppl_harness": ours,
            "relative_difference": ours / entry["ppl"] - 1,
            "parameters_reference": entry["parameters"],
            "parameters_harness": prune["parameters_after"]["total"],
            "shortcut_parameters_harness": prune["parameters_after"]["shortcuts"],
            "decoder_reduction_harness": prune["decoder_reduction"],
        })
    result = {"dense_ppl_reference": reference["dense"]["ppl"], "rows": rows}
    json.dump(result, open(output, "w"), indent=1)
    print("| slicing | d | reference ppl | harness ppl | difference | reference params | harness params |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['sparsity']:.2f} | {r['width_reference']} | {r['ppl_reference']:.3f} | {r['ppl_harness']:.3f} | "
              f"{100 * r['relative_difference']:+.2f} % | {r['parameters_reference']:,} | {r['parameters_harness']:,} |")


if __name__ == "__main__":
    main()
