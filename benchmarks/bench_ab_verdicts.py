"""A/B verdicts against simulated experiments with a known truth: false positives under peeking, and power.

Run with ``make bench-ab`` (or ``uv run python benchmarks/bench_ab_verdicts.py --help``). Each simulated
experiment draws both arms from known distributions, is looked at after every batch of 100 calls per arm (20
looks, up to 2,000 calls per arm) through the same ``compare`` the evaluation service's verdict uses, and stops
at the first 'better' or 'worse'. A/A runs (no true difference) that end 'better' or 'worse' are false positives:
the target (issue 9 §5) is that the upper bound of the Clopper-Pearson 95 % interval of their rate, over at least
2,000 runs, is at most alpha. Power runs (a stated true difference) must end 'better' in at least 80 % of runs.
For contrast, the fixed-horizon Welch test read at the same 20 looks is run on the same A/A draws: that is the
mistake the sequential test prevents. Pure CPU, one process, deterministic per ``--seed``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from benchkit import fmt, git_revision, machine_facts, md_table, met, replace_section
from llmops_evaluation.abtest.compare import Design
from llmops_evaluation.abtest.simulate import Scenario, simulate
from scipy import stats

SECTION_BEGIN = "<!-- bench-ab:begin (written by benchmarks/bench_ab_verdicts.py --write; edits here are lost) -->"
SECTION_END = "<!-- bench-ab:end -->"

AA = [Scenario("normal", 0.0), Scenario("lognormal", 0.0), Scenario("bernoulli", 0.0)]
POWER = [
    (Scenario("normal", 0.2, batches=10), "0.2 sd, 1,000 per arm"),
    (Scenario("lognormal", 0.2), "+20 % every value, 2,000 per arm"),
    (Scenario("bernoulli", 0.04), "10 % -> 14 %, 2,000 per arm"),
]
TEST = {"normal": "Welch", "lognormal": "Mann-Whitney", "bernoulli": "two-proportion"}


def naive_peeking(runs: int, alpha: float, seed: int) -> tuple[int, float]:
    """A/A normal runs where Welch's fixed-horizon p-value is read at every look (the invalid practice)."""
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(runs):
        a, b = rng.normal(0, 1, 2000), rng.normal(0, 1, 2000)
        rejected += any(stats.ttest_ind(a[:m], b[:m]).pvalue <= alpha for m in range(100, 2001, 100))
    return rejected, stats.binomtest(rejected, runs).proportion_ci(0.95).high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000, help="A/A runs per distribution (at least 2,000)")
    parser.add_argument("--power-runs", type=int, default=500)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--write", type=Path, help="Rewrite the marked section of this markdown file")
    args = parser.parse_args()
    design = Design(alpha=args.alpha)
    started = time.perf_counter()
    rows = []
    for scenario in AA:
        r = simulate(scenario, design, args.runs, seed=args.seed)
        rows.append([f"A/A {scenario.distribution}", TEST[scenario.distribution], f"{r.runs:,}", f"{r.rejections}",
                     f"{r.rate:.4f}", f"[{r.ci_low:.4f}, {r.ci_high:.4f}]", met(r.ci_high <= args.alpha)])  # fmt: skip
        print(rows[-1])
    naive_runs = args.runs // 4
    naive, naive_high = naive_peeking(naive_runs, args.alpha, args.seed)
    label = "A/A normal, Welch p read at every look (invalid, for contrast)"
    rate = f"{naive / naive_runs:.4f}"
    rows.append([label, "Welch", f"{naive_runs:,}", f"{naive}", rate, f"upper {naive_high:.4f}", "(not a target)"])
    for scenario, effect in POWER:
        r = simulate(scenario, design, args.power_runs, seed=args.seed)
        rows.append([f"power {scenario.distribution}: {effect}", TEST[scenario.distribution], f"{r.runs:,}",
                     f"{r.rejections} ({r.wrong_sign} wrong sign)", f"{r.rate:.4f}",
                     f"[{r.ci_low:.4f}, {r.ci_high:.4f}]", met(r.rate >= 0.8)])  # fmt: skip
        print(rows[-1])
    elapsed = time.perf_counter() - started
    header = ["scenario", "fixed-horizon test reported", "runs", "decisive", "rate", "95 % Clopper-Pearson", "target"]
    facts = {**machine_facts(), "revision": git_revision(), "seconds": fmt(elapsed, " s")}
    lines = [
        SECTION_BEGIN,
        f"alpha {args.alpha}, minimum effect {design.minimum_effect} sd, min {design.min_samples} per arm, "
        f"looks after every 100 calls per arm, seed {args.seed}.",
        "",
        *md_table(rows, header),
        "",
        "Run on: " + "; ".join(f"{k} {v}" for k, v in facts.items()),
        SECTION_END,
    ]
    print("\n".join(lines))
    if args.write:
        args.write.write_text(
            replace_section(args.write.read_text(), "\n".join(lines) + "\n", SECTION_BEGIN, SECTION_END)
        )


if __name__ == "__main__":
    main()
