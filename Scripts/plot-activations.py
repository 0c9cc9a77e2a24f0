#!/usr/bin/env python3
"""Read a statistics file of `intraslice activations` with h5py and plot it.

Usage: plot-activations.py STATS.h5 OUTDIR [--site residual_in]

Needs h5py, numpy and matplotlib (none of the harness's code): the README's "Activation
statistics" schema is all it relies on. Writes OUTDIR/spectrum-<site>.png (eigenvalue
spectra as shares of the trace at six layers), OUTDIR/outliers-<site>.png (per layer the
largest magnitude and the outlier share) and, for a file made with --reference,
OUTDIR/drift.png (the residual stream's relative error per layer). Prints, per layer, the
site's top outlier channels and their magnitudes.
"""
import argparse
import os

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stats")
    parser.add_argument("outdir")
    parser.add_argument("--site", default="residual_in")
    args = parser.parse_args()
    os.makedirs(args.outdir, exist_ok=True)

    with h5py.File(args.stats, "r") as f:
        root = f["activations"]
        layers = int(root.attrs["layers"])
        model = f["provenance"].attrs.get("model", "model")
        sites = [root[f"layer_{layer:02d}/{args.site}"] for layer in range(layers)]

        for layer, site in enumerate(sites):
            channels = site["top_channels"][:5]
            magnitudes = site["top_magnitudes"][:5]
            pairs = ", ".join(f"{int(c)}:{m:.1f}" for c, m in zip(channels, magnitudes))
            print(f"layer {layer:2d} {args.site}: top channels {pairs}; outlier share {site.attrs['outlier_fraction']:.2e}")

        fig, ax = plt.subplots(figsize=(7, 4))
        for layer in sorted({i * (layers - 1) // 5 for i in range(6)}):
            values = np.clip(sites[layer]["eigenvalues"][:], 0, None)
            ax.semilogy(np.arange(1, values.size + 1), values / values.sum(), label=f"layer {layer}")
        ax.set(title=f"{model}: spectrum of E[x xᵀ] at {args.site}", xlabel="component k", ylabel="λ_k / Σλ")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(args.outdir, f"spectrum-{args.site}.png"), dpi=120)

        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        left.semilogy([float(np.max(s["abs_max"][:])) for s in sites])
        left.set(title="largest magnitude", xlabel="layer", ylabel="max |x|")
        right.plot([float(s.attrs["outlier_fraction"]) for s in sites])
        right.set(title=f"share beyond {root.attrs['outlier_sigma']:g}σ of the token", xlabel="layer")
        fig.tight_layout()
        fig.savefig(os.path.join(args.outdir, f"outliers-{args.site}.png"), dpi=120)

        if "comparison" in f:
            comparison = f["comparison"]
            fig, ax = plt.subplots(figsize=(7, 4))
            for part in ("residual", "attention", "mlp"):
                ax.semilogy(comparison[f"{part}_relative_error"][:], label=part)
            kl = comparison.attrs["mean_next_token_kl"]
            ax.set(title=f"{model} against {f['provenance'].attrs['reference']}: next-token KL {kl:.3f}", xlabel="layer",
                   ylabel="relative error")
            ax.legend()
            fig.tight_layout()
            fig.savefig(os.path.join(args.outdir, "drift.png"), dpi=120)


if __name__ == "__main__":
    main()
