"""Learning curves of a training run (metrics.tsv, long format) as one SVG for the report:
training and validation loss, the learning rate, and validation genic and per-class F1, each
against the optimiser step; the baseline (step 0) is the starting model."""

from genetune.training.metrics_table import read_metrics


def plot_learning_curves(metrics_tsv, out_svg, title=""):
    from genetune.core.figures import plt, save_svg

    rows = read_metrics(metrics_tsv)

    def series(split, metric):
        pts = [(r["step"], r["value"]) for r in rows if r["split"] == split and r["metric"] == metric]
        return list(zip(*pts)) if pts else ([], [])

    fig, (loss_ax, lr_ax, f1_ax) = plt.subplots(1, 3, figsize=(14, 3.8))
    for split, style in (("train", "-o"), ("val", "-s")):
        loss_ax.plot(*series(split, "loss"), style, ms=3, label=f"{split} loss")
    loss_ax.set(xlabel="step", ylabel="loss", title="loss")
    loss_ax.legend(fontsize=8)
    lrs = sorted({(r["step"], r["lr"]) for r in rows if r["split"] == "val"})
    lr_ax.plot([s for s, _ in lrs], [v for _, v in lrs], "-o", ms=3)
    lr_ax.set(xlabel="step", ylabel="learning rate", title="learning rate at each check")
    for metric in ("genic_f1", "intergenic_f1", "UTR_f1", "CDS_f1", "intron_f1"):
        steps, values = series("val", metric)
        f1_ax.plot(
            steps,
            values,
            "-o" if metric == "genic_f1" else "--",
            ms=3,
            lw=2 if metric == "genic_f1" else 1,
            label=metric.replace("_f1", ""),
        )
    f1_ax.set(xlabel="step", ylabel="validation F1", title="validation F1 (step 0: starting model)", ylim=(0, 1))
    f1_ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    save_svg(fig, out_svg)
