"""PNG plots of a run (recall@k by category, latency) and of two runs side by side, with matplotlib's Agg canvas."""

from __future__ import annotations

import io
from pathlib import Path

from hyperloom.evals.files import write_atomic


def _figure(width: float = 7.0, height: float = 4.5):
    # Figure objects render through Agg without pyplot, so no GUI backend or global state is touched.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _save(figure, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return write_atomic(path, buffer.getvalue())


def curve(report: dict, family: dict) -> tuple[list[int], list[float]]:
    """(k, headline metric@k) points of one category (or of all questions)."""
    level, metric = report["headline"]
    at = ((family or {}).get(level) or {}).get(f"{metric}@k") or {}
    points = [(k, at[str(k)]) for k in report["ks"] if at.get(str(k)) is not None]
    return [k for k, _ in points], [v for _, v in points]


def recall_curves(report: dict, path: Path) -> Path:
    figure = _figure()
    ax = figure.add_subplot()
    retrieval = report["retrieval"]
    for name, family in retrieval["by_category"].items():
        ax.plot(*curve(report, family), marker="o", label=f"{name} ({family['questions']})")
    ax.plot(*curve(report, retrieval), marker="s", color="black", linewidth=2.5, label=f"all ({retrieval['questions']})")
    level, metric = report["headline"]
    ax.set(xscale="log", xlabel="k (turns retrieved)", ylabel=f"{level} {metric}@k", ylim=(0, 1.02), title=f"{report['dataset']}: {metric}@k by category")
    ax.set_xticks(report["ks"], [str(k) for k in report["ks"]])
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _save(figure, path)


def latency_histogram(records: list[dict], path: Path) -> Path:
    series = {"search": [r["latency_ms"] for r in records if r.get("kind") == "question" and "latency_ms" in r]}
    answers = [r["answer_ms"] for r in records if r.get("kind") == "question" and "answer_ms" in r]
    if answers:
        series["answer end to end"] = answers
    figure = _figure(7.0, 3.2 * len(series))
    for i, (name, values) in enumerate(series.items(), 1):
        ax = figure.add_subplot(len(series), 1, i)
        ax.hist(values, bins=40, color="tab:blue" if name == "search" else "tab:orange")
        for q, style in ((50, "--"), (95, ":")):
            if values:
                value = sorted(values)[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]
                ax.axvline(value, color="black", linestyle=style, label=f"p{q} {value:.1f} ms")
        ax.set(xlabel=f"{name} latency (ms)", ylabel="questions")
        ax.legend(fontsize="small")
    return _save(figure, path)


def stage_latency(records: list[dict], path: Path) -> Path:
    """Per graph stage: the distribution of its milliseconds over the questions (log scale; boxes at p25-p75)."""
    rows = [r["stages_ms"] for r in records if r.get("kind") == "question" and r.get("stages_ms")]
    from hyperloom.evals.report import STAGES

    names = [s for s in STAGES if any(s in row for row in rows)]
    figure = _figure(7.0, 3.6)
    ax = figure.add_subplot()
    values = [[max(row[s], 1e-3) for row in rows if s in row] for s in names]
    ax.boxplot(values, tick_labels=names, whis=(5, 95), showfliers=False)
    ax.set(yscale="log", ylabel="ms per question", title="Latency per graph stage (whiskers p5-p95)")
    ax.grid(alpha=0.3, axis="y")
    return _save(figure, path)


def rounds_recall(report: dict, path: Path) -> Path:
    """By the number of rounds the critic let a question take: first-round and final (adaptive) evidence recall."""
    by = report["critic"]["recall_by_rounds"]
    names = [n for n in by if by[n]["questions"]]
    figure = _figure(6.0, 3.8)
    ax = figure.add_subplot()
    xs = range(len(names))
    first = [by[n]["first_round_recall"] or 0.0 for n in names]
    final = [by[n]["adaptive_recall"] or 0.0 for n in names]
    ax.bar([x - 0.2 for x in xs], first, width=0.4, label="after round 1")
    ax.bar([x + 0.2 for x in xs], final, width=0.4, label="after the last round (adaptive)")
    ax.set_xticks(list(xs), [f"{n} round{'s' if n != '1' else ''}\n({by[n]['questions']} q, {by[n]['evidence_turns']:.1f} turns)" for n in names])
    ax.set(ylim=(0, 1.05), ylabel="evidence recall", title="Rounds taken vs evidence recall")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize="small")
    return _save(figure, path)


def write_plots(report: dict, records: list[dict], out: Path) -> list[Path]:
    paths = [recall_curves(report, out / "recall_at_k.png"), latency_histogram(records, out / "latency.png")]
    if report.get("critic"):
        paths += [rounds_recall(report, out / "rounds_recall.png"), stage_latency(records, out / "stage_latency.png")]
        paths += critic_plots(report["critic"], out)
    return paths


def critic_plots(critic: dict, out: Path) -> list[Path]:
    """The reading critic's reliability diagram, and adaptive against fixed-k evidence recall (and reader F1, when measured)."""
    paths = []
    curves = {f"P({label})": critic[label]["calibration"] for label in ("holds", "right") if critic.get(label)}
    if curves:
        paths.append(reliability(curves, out / "critic_reliability.png", "Critic calibration: P(holds) round 1, P(right) last round"))
    versus = critic.get("adaptive_vs_fixed") or {}
    adaptive, fixed = versus.get("adaptive") or {}, versus.get("fixed_recall") or {}
    if adaptive.get("recall") is not None and fixed:
        point = {f"adaptive ({adaptive['turns']:.1f} turns)": (adaptive["turns"], adaptive["recall"])}
        paths.append(adaptive_curve({int(k): v for k, v in fixed.items()}, {}, out / "adaptive_vs_fixed.png", "evidence recall", point))
    if (f1 := versus.get("fixed_f1")) and adaptive.get("turns") is not None:
        point = {f"adaptive ({adaptive['turns']:.1f} turns)": (adaptive["turns"], f1["adaptive_f1"]), f"fixed top-{f1['k']}": (float(f1["k"]), f1["f1"])}
        paths.append(adaptive_curve({}, {}, out / "adaptive_vs_fixed_f1.png", "reader F1", point))
    return paths


def compare_curves(a: dict, b: dict, labels: tuple[str, str], path: Path) -> Path:
    """One panel per category (and all questions): run A dashed, run B solid."""
    names = ["all", *[c for c in b["retrieval"]["by_category"] if c in a["retrieval"]["by_category"]]]
    figure = _figure(3.2 * min(len(names), 3), 2.8 * ((len(names) + 2) // 3))
    for i, name in enumerate(names, 1):
        ax = figure.add_subplot((len(names) + 2) // 3, min(len(names), 3), i)
        for report, label, style in ((a, labels[0], "--"), (b, labels[1], "-")):
            family = report["retrieval"] if name == "all" else report["retrieval"]["by_category"][name]
            ax.plot(*curve(report, family), linestyle=style, marker="o", label=label)
        ax.set(xscale="log", ylim=(0, 1.02), title=name)
        ax.set_xticks(b["ks"], [str(k) for k in b["ks"]])
        ax.grid(alpha=0.3)
    figure.axes[0].legend(fontsize="small")
    level, metric = b["headline"]
    figure.suptitle(f"{level} {metric}@k: {labels[0]} (dashed) vs {labels[1]} (solid)")
    return _save(figure, path)


def reliability(curves: dict[str, dict], path: Path, title: str = "Critic calibration") -> Path:
    """Reliability diagram: per curve (a name -> `calibration()` result), observed share against mean probability per bin."""
    figure = _figure(5.2, 4.8)
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    for name, cal in curves.items():
        bins = [b for b in cal["bins"] if b["n"]]
        ax.plot([b["p"] for b in bins], [b["observed"] for b in bins], marker="o", label=f"{name} (ECE {cal['ece']:.3f}, n {cal['n']})")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="critic's probability (bin mean)", ylabel="observed share", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", loc="upper left")
    return _save(figure, path)


def adaptive_curve(fixed: dict[int, float], adaptive: dict[str, list[tuple[float, float]]], path: Path, ylabel: str = "evidence recall", points: dict[str, tuple[float, float]] | None = None) -> Path:
    """Fixed top-k (k -> value) as a line against adaptive retrieval's (mean evidence turns, value) curves and points."""
    figure = _figure(6.4, 4.4)
    ax = figure.add_subplot()
    ks = sorted(fixed)
    ax.plot(ks, [fixed[k] for k in ks], marker="s", color="black", label="fixed top-k")
    for name, curve_points in adaptive.items():
        xs, ys = zip(*sorted(curve_points)) if curve_points else ((), ())
        ax.plot(xs, ys, marker=".", label=name)
    for name, (x, y) in (points or {}).items():
        ax.plot([x], [y], marker="*", markersize=12, linestyle="none", label=name)
    ax.axvline(10, color="grey", linestyle=":")
    ax.set(xlabel="mean evidence turns", ylabel=ylabel, title=f"Adaptive vs fixed k: {ylabel}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small")
    return _save(figure, path)
