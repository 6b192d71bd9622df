"""report.md: the one-screen summary a person reads first."""

from __future__ import annotations

from hyperloom.evals import published

NAMES = {"locomo": "LoCoMo", "longmemeval": "LongMemEval", "jsonl": "JSONL"}


def render(report: dict) -> str:
    parts = [_title(report), _retrieval_table(report), _other_measures(report), _costs(report)]
    if report.get("qa"):
        parts += [_qa_table(report), _agent_section(report)]
    parts += [_published(report), _footer(report)]
    return "\n\n".join(p for p in parts if p) + "\n"


def _fmt(value: object) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _title(r: dict) -> str:
    run, git = r["run"], r["run"]["git"]
    state = "complete" if r["complete"] else f"INCOMPLETE ({r['questions']} of {r['questions_planned']} questions)"
    skipped = ", ".join(f"{n} {why}" for why, n in r["excluded"].items()) or "none"
    rev = f"{(git['revision'] or 'unknown')[:10]}{' (uncommitted changes)' if git['dirty'] else ''}"
    return (
        f"# hyperloom on {NAMES.get(r['dataset'], r['dataset'])}: {r['mode']} mode\n\n"
        f"Run {state}: {r['questions']} questions over {len(r['conversations'])} conversation(s); "
        f"not scored for retrieval: {skipped}.  \n"
        f"memory `{run['config'].get('memory')}`, embedder `{run['config'].get('embedder')}`, git {rev}, "
        f"{run['workers']} worker(s), {run['wall_seconds']} s wall, started {run['started']}."
    )


def _retrieval_table(r: dict) -> str:
    level, metric = r["headline"]
    ks, ret = r["ks"], r["retrieval"]
    mid = str(10 if 10 in ks else ks[-1])
    header = ["category", "questions", *[f"{metric}@{k}" for k in ks], f"nDCG@{mid}"]
    rows = []
    for name, fam in [*ret["by_category"].items(), ("**all**", ret)]:
        lvl = fam.get(level) or {}
        at = lvl.get(f"{metric}@k") or {}
        rows.append([name, fam["questions"], *[at.get(str(k)) for k in ks], (lvl.get("ndcg@k") or {}).get(mid)])
    what = "evidence recall (LoCoMo's definition)" if (level, metric) == ("turn", "recall") else f"{level}-level {metric}"
    return f"## Retrieval by category: {what}\n\n" + _table(header, rows)


def _other_measures(r: dict) -> str:
    ks, ret = r["ks"], r["retrieval"]
    rows = []
    for level in ("turn", "session"):
        for metric in ("recall", "recall_any", "recall_all", "ndcg"):
            at = (ret.get(level) or {}).get(f"{metric}@k") or {}
            rows.append([level, metric, *[at.get(str(k)) for k in ks]])
    span = ret.get("span") or {}
    for metric in ("recall", "precision", "iou"):
        at = span.get(f"{metric}@k") or {}
        rows.append(["span", metric, *[at.get(str(k)) for k in ks]])
    omega = f"\n\nSpan precision Ω (the span cutter with oracle retrieval): {_fmt(span.get('precision_omega'))}." if span else ""
    return "## All measures, all questions\n\n" + _table(["level", "metric", *[f"@{k}" for k in ks]], rows) + omega


def _costs(r: dict) -> str:
    lat, ing = r["latency_ms"], r["ingest"]
    text = (
        f"Search latency p50 {lat['search']['p50']} ms, p95 {lat['search']['p95']} ms (top {lat['search_k']} turns). "
        f"Ingest {ing['turns_per_s']} turns/s ({ing['turns']} turns); peak memory {ing['peak_rss_mb']} MB per process."
    )
    if r.get("temporal_dates"):
        t = r["temporal_dates"]
        text += f" Temporal questions whose gold date is among the resolved dates of the top-10 evidence: {t['share']:.3f} of {t['questions']}."
    if "end_to_end" in lat:
        text += f" Answer latency end to end p50 {lat['end_to_end']['p50']} ms, p95 {lat['end_to_end']['p95']} ms."
    if (r.get("qa") or {}).get("judge") and r.get("cost", {}).get("judge", {}).get("calls") is not None:
        j = r["cost"]["judge"]
        text += f" Judge: {j['calls']} calls ({j['cached']} cached), ${j['dollars']:.4f}."
    return text


def _qa_table(r: dict) -> str:
    qa = r["qa"]
    judge = qa.get("judge") or {}
    columns = [c for c in ("lenient", "strict", "accuracy") if c in judge]
    header = ["category", "questions", "F1", "BLEU-1", "EM", *[f"judge {c}" for c in columns]]
    rows = [[name, s["questions"], s["f1"], s["bleu1"], s["em"], *[judge_cell(s, c) for c in columns]] for name, s in qa["by_category"].items()]
    rows.append(["**overall**", qa["questions"], qa["f1"], qa["bleu1"], qa["em"], *[judge.get(c) for c in columns]])
    note = f"\n\nStemmer: {qa['stemmer']}." + (f" Judge `{judge['model']}`, prompts {', '.join(f'{p} sha256 {h[:12]}' for p, h in judge['prompt_sha'].items())}." if judge else "")
    return "## Answers\n\n" + _table(header, rows) + note


def _agent_section(r: dict) -> str:
    """The agent's side of QA mode: critic, adaptive evidence, quotes, per-stage latency, cost."""
    parts = []
    critic = r.get("critic")
    model = (r["run"]["config"] or {}).get("model")
    if critic:
        trained = critic["trained_on"]
        trained_text = ", ".join(trained) if trained else "not recorded" if trained is None else "none listed"
        rows = [
            ["critic", f"{critic['kind']} (threshold {_fmt(critic['threshold'])}; trained on {trained_text})"],
            ["AUROC (first-round probability vs first round holds all gold evidence)", _fmt(critic["auroc"])],
            ["accuracy at the threshold", _fmt(critic["accuracy"])],
            *([[f"held out (not in its training conversations): AUROC / accuracy / questions", f"{_fmt(critic['held_out']['auroc'])} / {_fmt(critic['held_out']['accuracy'])} / {critic['held_out']['questions']}"]] if critic.get("held_out") else []),
            ["questions labelled (with gold evidence) / first round sufficient", f"{critic['questions']} / {critic['positives']}"],
            ["mean rounds", _fmt(critic["mean_rounds"])],
            ["rounds taken (questions)", ", ".join(f"{n}: {c}" for n, c in critic["rounds"].items())],
            ["mean evidence turns", _fmt(critic["mean_evidence_turns"])],
            ["first-round evidence recall", _fmt(critic["first_round_recall"])],
            ["adaptive evidence recall (all rounds)", _fmt(critic["adaptive_recall"])],
            *_reading_critic_rows(critic),
        ]
        if r.get("quotes"):
            q = r["quotes"]
            rows.append(["answers whose every quote is verbatim in the log", f"{_fmt(q['share'])} of {q['questions_with_citations']} answers with citations ({q['citations']} citations)"])
        warning = (f"\n\nThe critic was trained on {', '.join(critic['trained_on_in_run'])}, which this run also asks about: "
                   "only the held-out row measures it on conversations it has not seen.") if critic.get("trained_on_in_run") else ""
        parts.append(f"## The agent: critic and adaptive retrieval (model `{model}`)\n\n" + _table(["measure", "value"], rows) + warning)
    lat = r["latency_ms"]
    stages = [s for s in lat if s not in ("search", "search_k") and isinstance(lat[s], dict)]
    if stages:
        rows = [[s.replace("_", " "), lat[s]["p50"], lat[s]["p95"], lat[s]["mean"]] for s in stages]
        parts.append("Latency per graph stage, ms (stages summed over rounds):\n\n" + _table(["stage", "p50", "p95", "mean"], rows))
    cost = r.get("cost") or {}
    if "calls" in cost:
        per = cost["per_question"]
        parts.append(f"Answering cost: {cost['calls']} LLM calls, {cost['prompt_tokens']} prompt and {cost['completion_tokens']} completion tokens, "
                     f"${cost['dollars']:.4f} (per question: {per['calls']:.2f} calls, {per['prompt_tokens']:.0f} + {per['completion_tokens']:.0f} tokens, ${per['dollars']:.5f}).")
    return "\n\n".join(parts)


def _reading_critic_rows(critic: dict) -> list[list[object]]:
    """AUROC and calibration of both labels, the confidence words, adaptive vs fixed k (the reading critic, issue 16)."""
    rows = []
    for label, what in (("holds", "P(holds), round 1, vs its evidence holding every gold turn"), ("right", "P(right), last round, vs the answer's F1 >= 0.5")):
        if critic.get(label):
            c = critic[label]
            rows.append([f"{what}: AUROC / ECE / questions", f"{_fmt(c['auroc'])} / {_fmt(c['calibration']['ece'])} / {c['questions']}"])
    if critic.get("confidence"):
        rows.append(["confidence words: answers (share right)", ", ".join(f"{w} {v['answers']} ({_fmt(v['right'])})" for w, v in sorted(critic["confidence"].items()))])
    versus = critic.get("adaptive_vs_fixed") or {}
    adaptive, fixed = versus.get("adaptive") or {}, versus.get("fixed_recall") or {}
    if adaptive.get("recall") is not None and fixed:
        rows.append(["adaptive: mean turns / recall / F1", f"{_fmt(adaptive['turns'])} / {_fmt(adaptive['recall'])} / {_fmt(adaptive['f1'])}"])
        rows.append(["fixed top-k evidence recall", ", ".join(f"@{k} {_fmt(v)}" for k, v in fixed.items())])
    if f1 := versus.get("fixed_f1"):
        rows.append([f"reader F1: adaptive / fixed top-{f1['k']} ({f1['questions']} questions)", f"{_fmt(f1['adaptive_f1'])} / {_fmt(f1['f1'])}"])
    return rows


def judge_cell(scores: dict, column: str) -> float | None:
    judge = scores.get("judge") or {}
    if column == "accuracy":
        return next((v for p, v in judge.items() if p.startswith("longmemeval")), None)
    return judge.get(f"locomo_{column}")


def _published(r: dict) -> str:
    figures = published.figures(r["dataset"])
    if not figures:
        return "## Published figures\n\nRESEARCH.md quotes no published figures for this data set."
    ks = sorted({int(k) for row in figures["retrieval"] for k in row["recall@k"]} | set(r["ks"]))
    ours = (r["retrieval"].get("recall@k") or {})
    rows = [[row["system"], *[_percent(row["recall@k"].get(str(k))) for k in ks]] for row in figures["retrieval"]]
    rows.append(["**hyperloom, this run**", *[_percent(None if ours.get(str(k)) is None else 100 * ours[str(k)]) for k in ks]])
    text = f"## Published figures ({figures['source']})\n\nEvidence recall@k, %:\n\n" + _table(["system", *[f"@{k}" for k in ks]], rows)
    if r.get("qa"):
        text += "\n\n" + _published_f1(figures, r["qa"])
        text += "\n\nPublished judge accuracy on categories 1-4, %: " + ", ".join(f"{k} {v}" for k, v in figures["judge"].items()) + "."
    return text + "\n\nPublished search latency: Mem0 p50 150 ms, p95 200 ms; Zep p95 780 ms."


def _published_f1(figures: dict, qa: dict) -> str:
    names = ("multi-hop", "temporal", "open-domain", "single-hop")
    rows = [[row["system"], *[_percent(row["by_category"].get(c)) for c in names]] for row in figures["qa_f1"]]
    ours = [(qa["by_category"].get(c) or {}).get("f1") for c in names]
    rows.append(["**hyperloom, this run**", *[_percent(None if v is None else 100 * v) for v in ours]])
    return "Official F1 by category, %:\n\n" + _table(["system", *names], rows)


def _footer(r: dict) -> str:
    ev = r["evidence_ids"]
    notes = "; ".join(f"{k.replace('_', ' ')}: {len(v)}" for k, v in r["input_notes"].items())
    plots = ", ".join(r.get("plots", []))
    return f"Evidence ids repaired {len(ev['parsed'])}, skipped {len(ev['skipped'])}, unparsed {len(ev.get('unparsed', []))}" + (f"; {notes}" if notes else "") + f" (listed in report.json). Plots: {plots}."
