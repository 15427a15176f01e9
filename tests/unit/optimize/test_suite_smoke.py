"""The broad optimiser suite (benchmarks/tuner/suite.py) in miniature: every synthetic problem is
exact after its per-seed shift, the shift moves the optimum, and the paired runner produces its
table. The full run is `make bench-suite` (peers in the bench environment)."""
import numpy as np
import pytest

from benchmarks.tuner.suite import main, paired_cells
from benchmarks.tuner.suite_problems import SYNTHETIC, make_synthetic
from skytune.optimize import parse_space


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_each_shifted_function_reaches_its_optimum_inside_the_space_and_moves_per_seed(name):
    locations = []
    for seed in range(3):
        problem = make_synthetic(name, seed)
        space = parse_space(problem.parameter_ranges)
        best = space.coerce(problem.optimum_config)
        assert problem.function(best) - problem.optimum == pytest.approx(0.0, abs=1e-5)
        # nowhere in a random sample is lower than the stated optimum
        sample = space.from_unit(np.random.default_rng(seed).random((200, space.dimension)))
        assert min(problem.function(c) for c in sample) >= problem.optimum - 1e-9
        locations.append(tuple(sorted(space.to_unit([best])[0].round(6))))
    assert len(set(locations)) == 3  # the optimum is somewhere else for each seed


def test_paired_cells_call_wins_losses_and_ties_by_two_standard_errors():
    def runs(method, finals):
        return [{"problem": "p", "method": method, "workers": 1, "seed": s, "log10_regret": [v]}
                for s, v in enumerate(finals)]
    results = runs("Bayesian", [0.0, 0.1, 0.2, 0.3]) + runs("A", [1.0, 1.1, 1.2, 1.35]) + runs("B", [0.0, 0.3, 0.0, 0.3])
    cells = {c["peer"]: c for c in paired_cells(results, [1])}
    assert cells["A"]["verdict"] == "win" and cells["A"]["diff"] == pytest.approx(-1.0125)
    assert cells["B"]["verdict"] == "tie"


def test_the_smoke_suite_runs_in_seconds():
    text = main(["--smoke"])
    assert "| branin2 |" in text and "| levy6int |" in text and "diff vs Random" in text


def test_gzipped_results_are_appended_to_and_reused_without_a_rerun(tmp_path):
    import gzip
    import json

    from benchmarks.tuner import paired

    kept = tmp_path / "kept.jsonl.gz"
    first = main(["--smoke", "--json", str(kept)])
    assert "min wall time for this invocation" in first
    rows = [json.loads(line) for line in gzip.open(kept, "rt")]
    assert len(rows) == 2 * 2 * 2  # problems x methods x seeds
    again = main(["--smoke", "--json", str(kept)])  # everything is there: nothing runs, nothing is appended
    assert len(gzip.open(kept, "rt").readlines()) == len(rows)
    # and the table says so, instead of a wall time of 0.0 min
    assert "8 runs, all read from stored results (this invocation ran none" in again
    assert "min wall time" not in again
    assert len(paired.load_rows([str(kept)])) == len(rows)


def test_every_candidate_variant_names_valid_bayesian_options():
    from benchmarks.tuner.methods import VARIANTS
    from skytune.optimize.bayesian import BayesianOptions

    assert "Bayesian+mcmc" in VARIANTS
    for options in VARIANTS.values():
        BayesianOptions(**options)  # an unknown option raises TypeError


def test_paired_table_pairs_by_seed_takes_the_longest_run_and_reads_a_seed_range(tmp_path):
    import json

    from benchmarks.tuner import paired

    def row(method, seed, curve):
        return json.dumps({"problem": "p", "method": method, "workers": 1, "seed": seed, "budget": len(curve),
                           "log10_regret": curve}) + "\n"

    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    # candidate is 1.0 lower on seeds 0-2 (a clear win) and 0.0-0.2 higher on seeds 3-5
    first.write_text("".join(row("new", s, [0.0, 0.0]) for s in range(3))
                     + "".join(row("new", s, [1.0, 1.0 + 0.1 * (s - 3)]) for s in range(3, 6))
                     + "".join(row("old", s, [1.0]) for s in range(6)))  # budget-1 runs only...
    second.write_text("".join(row("old", s, [1.0, 1.0]) for s in range(6)))  # ...the longer ones serve budget 2
    table = paired.main(["--json", f"{first},{second}", "--candidates", "new", "--baseline", "old",
                         "--problems", "p", "--budgets", "2", "--seeds", "0-2"])
    assert "| `new` | p | -1.00 ± 0.00 **win** |" in table
    table = paired.main(["--json", f"{first},{second}", "--candidates", "new", "--baseline", "old",
                         "--problems", "p", "--budgets", "2", "--seeds", "3-6"])
    assert "| `new` | p | +0.10 ± 0.06 tie (3 seeds) |" in table


def test_a_variant_runs_the_settings_of_its_day_after_the_defaults_change():
    from benchmarks.tuner.methods import make_method
    from benchmarks.tuner.problems import PROBLEMS
    from skytune.optimize.gp import Prior

    problem = PROBLEMS["branin"]
    # round 6-7's default, measured with the Sobol design first: the centre default (round 8) must
    # not leak into it, or re-running its command would not reproduce the stored rows
    wins = make_method("Bayesian+wins", problem, 0, parallel=False)
    assert wins.options["first_point"] == "sobol" and wins.options["output_transform"] == "winsorize"
    assert wins.options["prior"] == Prior(noise_form="mixture")
    assert make_method("Bayesian+mcmc", problem, 0, parallel=False).options["prior"] == Prior()
    assert wins.options["n_initial"] is None  # rounds 1-7's max(4, min(10, P + 1)), not round 8's 5
    assert make_method("Bayesian+wins+center", problem, 0, parallel=False).options["first_point"] == "center"
    assert make_method("Bayesian+init5", problem, 0, parallel=False).options["n_initial"] == 5
    # round 8's default ran no trust region; round 9's default turns it on from 8 parameters
    assert make_method("Bayesian+init5", problem, 0, parallel=False).options["trust_region"] == "off"
    assert make_method("Bayesian+init5+tr", problem, 0, parallel=False).options["trust_region"] == "auto"
    # round 9's default: the box from 8 parameters, every pick in it, pinned so a later default
    # cannot move its stored rows; round 10's candidates set their own
    round9 = make_method("Bayesian+init5+tr", problem, 0, parallel=False).options
    assert round9["trust_region_min_dim"] == 8 and round9["trust_region_global_every"] == 0
    trall = make_method("Bayesian+trall", problem, 0, parallel=False).options
    assert trall["trust_region_min_dim"] == 1 and trall["trust_region_global_every"] == 0
    tralt = make_method("Bayesian+tralt", problem, 0, parallel=False).options
    assert tralt["trust_region_min_dim"] == 1 and tralt["trust_region_global_every"] == 2
