#!/usr/bin/env python3
"""Compares a harness zero-shot run (HDF5 from `intraslice eval zeroshot --output`) with the
transformers reference of reference_zeroshot.py, document by document.

Per task: documents compared, agreement of the acc prediction and of the acc_norm prediction,
accuracies on both sides, documents whose continuation token counts differ, and the largest
absolute loglikelihood difference. Writes comparison.<model>.limit<N>.json beside this script.

Usage: python compare_with_harness.py RUN.h5 [--reference smollm2-135m.limit200.json]
Needs h5py and numpy (e.g. the venv that Scripts/test.sh keeps in the asset cache).
"""
import argparse
import json
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--reference", default=os.path.join(HERE, "smollm2-135m.limit200.json"))
    args = ap.parse_args()
    ref = json.load(open(args.reference))
    run = h5py.File(args.run, "r")
    out = {"harness_run": os.path.basename(args.run), "reference": os.path.basename(args.reference),
           "harness_model_sha256": run["provenance"].attrs["model_sha256"], "tasks": {}}
    for task, r in ref["results"].items():
        if task not in run["zeroshot"]:
            continue
        g = run["zeroshot"][task]
        ids = g["doc_id"][:]
        offsets = g["choice_offsets"][:]
        ll, counts = g["loglikelihood"][:], g["token_count"][:]
        pred, pred_norm, gold = g["prediction"][:], g["prediction_norm"][:], g["gold"][:]
        row = {int(i): d for d, i in enumerate(ids)}
        n = agree = agree_norm = count_mismatch = 0
        hits = hits_norm = ref_hits = ref_hits_norm = 0
        worst = 0.0
        for doc in r["per_doc"]:
            d = row.get(doc["doc_id"])
            if d is None:
                continue
            n += 1
            ours = ll[offsets[d]:offsets[d + 1]]
            worst = max(worst, float(np.max(np.abs(ours - np.array(doc["loglikelihoods"])))))
            count_mismatch += int(list(counts[offsets[d]:offsets[d + 1]]) != doc["token_counts"])
            agree += int(pred[d] == doc["pred_acc"])
            hits += int(pred[d] == gold[d])
            ref_hits += int(doc["pred_acc"] == doc["gold"])
            if doc.get("pred_acc_norm") is not None:
                agree_norm += int(pred_norm[d] == doc["pred_acc_norm"])
                hits_norm += int(pred_norm[d] == gold[d])
                ref_hits_norm += int(doc["pred_acc_norm"] == doc["gold"])
        has_norm = task not in ("winogrande", "lambada")
        out["tasks"][task] = {
            "documents": n, "prediction_agreement_acc": agree / n,
            "prediction_agreement_acc_norm": agree_norm / n if has_norm else None,
            "harness_acc": hits / n, "reference_acc": ref_hits / n,
            "harness_acc_norm": hits_norm / n if has_norm else None,
            "reference_acc_norm": ref_hits_norm / n if has_norm else None,
            "token_count_mismatches": count_mismatch, "max_abs_loglikelihood_difference": worst,
        }
        t = out["tasks"][task]
        print(f"{task:14s} n={n} agree acc {agree}/{n}" + (f", acc_norm {agree_norm}/{n}" if has_norm else "")
              + f"; acc {100 * t['harness_acc']:.2f} vs {100 * t['reference_acc']:.2f}"
              + (f", acc_norm {100 * t['harness_acc_norm']:.2f} vs {100 * t['reference_acc_norm']:.2f}" if has_norm else "")
              + f"; token-count mismatches {count_mismatch}; max |dll| {worst:.1e}")
    name = os.path.basename(args.reference).replace(".json", "")
    path = os.path.join(HERE, f"comparison.{name}.json")
    json.dump(out, open(path, "w"), indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
