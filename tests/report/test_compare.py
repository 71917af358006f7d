"""`paretonet compare` and accuracy intervals: records of any command side by side."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from paretonet.cli import main
from paretonet.records import (Objective, Record, accuracy_objective, outcomes, per_image_accuracy, records_from_json,
                               wilson_interval)
from paretonet.report import NoiseTest, compare, mcnemar_p, noise_test, read_records, render, within_noise


def _rec(variant: str, acc: float, energy: float, size: float, dataset: str = "digits") -> Record:
    return Record("lenet:lenet5", dataset, 0, (accuracy_objective("accuracy", acc, 359),
                                              Objective("energy_pj@horowitz45:hierarchy", energy, "pJ", "min"),
                                              Objective("size_bytes", size, "bytes", "min")), variant=variant)


HAND = [  # accuracy up, energy and size down: b and d are dominated
    _rec("", 0.98, 100.0, 1000.0),  # a: best accuracy
    _rec("bits=8", 0.97, 100.0, 1000.0),  # b: dominated by a
    _rec("bits=4", 0.95, 30.0, 300.0),  # c: cheaper
    _rec("bits=2", 0.90, 40.0, 400.0),  # d: dominated by c
    _rec("prune=0.5", 0.96, 60.0, 200.0),  # e: smallest
]


def test_wilson_interval_matches_the_formula():
    low, high = wilson_interval(0.5, 100)
    assert (round(low, 4), round(high, 4)) == (0.4038, 0.5962)
    z = 1.959963984540054
    assert wilson_interval(0.0, 10) == (0.0, pytest.approx(z * z / (10 + z * z)))
    assert wilson_interval(1.0, 10)[1] == pytest.approx(1.0)


def test_every_accuracy_of_a_trained_model_has_images_and_an_interval(capsys, saved_model, tmp_path):
    assert main(["evaluate", saved_model, "-o", str(tmp_path / "e.json")]) == 0
    assert main(["robustness", saved_model, "--preset", "fast", "--images", "40", "--noise", "gaussian:0.1",
                 "--draws", "2", "-o", str(tmp_path / "r.json")]) == 0
    capsys.readouterr()
    for name in ("e.json", "r.json"):
        rec = records_from_json(json.loads((tmp_path / name).read_text()))[0]
        for o in rec.objectives:
            if o.unit == "fraction":
                assert o.images in (359, 40) and o.interval == pytest.approx(wilson_interval(o.value, o.images))
    clean, robust = (records_from_json(json.loads((tmp_path / n).read_text()))[0] for n in ("e.json", "r.json"))
    for o in (clean.objectives[0], next(o for o in robust.objectives if o.name.startswith("robust_accuracy@"))):
        assert o.images_id and outcomes(o).mean() == pytest.approx(o.value)  # per-image outcomes ride along
    # the same model evaluated twice: the paired test, no image on which they differ
    assert main(["evaluate", saved_model, "-o", str(tmp_path / "again.json")]) == 0
    again = records_from_json(json.loads((tmp_path / "again.json").read_text()))[0]
    assert noise_test(clean.objectives[0], again.objectives[0]) == NoiseTest(True, "mcnemar", 1.0)


def test_mcnemar_is_paired_and_sharper_than_two_independent_proportions():
    assert mcnemar_p(np.array([True] * 10 + [False] * 2), np.array([False] * 10 + [True] * 2)) == pytest.approx(
        2 * (1 + 12 + 66) / 4096)  # exact binomial tail, by hand
    right = np.ones(359, dtype=bool)
    right[:7] = False
    worse = right.copy()
    worse[7:15] = False  # the same images wrong, and 8 more
    a, b = per_image_accuracy("accuracy", right, "same"), per_image_accuracy("accuracy", worse, "same")
    assert a.value == pytest.approx(352 / 359) and a.interval == pytest.approx(wilson_interval(352 / 359, 359))
    assert noise_test(a, b) == NoiseTest(False, "mcnemar", pytest.approx(2 / 256))
    unpaired = replace(b, images_id="other images")
    assert noise_test(a, unpaired).test == "newcombe" and noise_test(a, unpaired).within
    assert within_noise(a, a)


def test_hand_checked_front_relative_constraint_and_noise():
    c = compare(HAND, baseline="float")
    assert c.front_objectives == ("accuracy", "energy_pj@horowitz45:hierarchy", "size_bytes")
    assert c.on_front == (True, False, True, False, True)
    assert c.relative(2, "energy_pj@horowitz45:hierarchy")[0] == "0.3x"
    cheap = compare(HAND, baseline="float", where=["energy<=0.5x"])
    assert [r.variant for r in cheap.records] == ["bits=4", "bits=2"] and cheap.baseline is None
    assert compare(HAND, front=["accuracy", "size"]).on_front == (True, False, False, False, True)
    assert within_noise(HAND[0].objectives[0], HAND[0].objectives[0])  # identical models
    assert within_noise(HAND[0].objectives[0], HAND[1].objectives[0])  # 0.98 vs 0.97 on 359 images
    assert not within_noise(HAND[0].objectives[0], HAND[3].objectives[0])  # 0.98 vs 0.90
    assert "within noise" in render(compare(HAND, baseline="0"), "md").splitlines()[3]


def test_csv_and_json_round_trip(tmp_path):
    c = compare(HAND, baseline="0")
    rows = list(csv.DictReader(io.StringIO(render(c, "csv"))))
    assert [float(r["accuracy"]) for r in rows] == [r.value("accuracy") for r in HAND]
    assert [float(r["energy_pj@horowitz45:hierarchy"]) for r in rows] == [r.value("energy_pj@horowitz45:hierarchy")
                                                                        for r in HAND]
    assert [r["on_front"] for r in rows] == ["True", "False", "True", "False", "True"]
    assert float(rows[0]["accuracy low"]) == pytest.approx(wilson_interval(0.98, 359)[0])
    payload = json.loads(render(c, "json"))
    assert records_from_json([{k: v for k, v in d.items() if k not in ("row", "on_front", "vs_baseline")}
                              for d in payload]) == HAND
    (tmp_path / "hand.json").write_text(json.dumps([r.to_dict() for r in HAND]))
    assert read_records([tmp_path]) == HAND


def test_markdown_and_latex_tables():
    md = render(compare(HAND), "md").splitlines()
    assert len(md) == 2 + len(HAND) and md[1].count("---") == md[0].count("|") - 1
    tex = render(compare(HAND), "latex")
    assert tex.startswith("\\begin{tabular}") and "energy\\_pj@horowitz45:hierarchy" in tex and "$\\pm$" in tex
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed on this machine: the LaTeX was checked for structure only")
    doc = "\\documentclass{article}\\usepackage{booktabs}\\usepackage[margin=5mm,paperwidth=60cm]{geometry}" \
          "\\begin{document}" + tex + "\\end{document}\n"
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        Path(d, "t.tex").write_text(doc)
        res = subprocess.run(["pdflatex", "-interaction=nonstopmode", "t.tex"], cwd=d, capture_output=True, text=True)
        assert res.returncode == 0, res.stdout[-2000:]


def test_plot_page_draws_pairwise_fronts_and_parallel_coordinates(capsys, tmp_path, draws_in_browser):
    four = [Record(r.architecture, r.dataset, r.seed, (*r.objectives, Objective("macs", 1000.0 * (i + 1), "MACs", "min")),
                   variant=r.variant) for i, r in enumerate(HAND)]
    (tmp_path / "four.json").write_text(json.dumps([r.to_dict() for r in four]))
    page = tmp_path / "plot.html"
    assert main(["compare", str(tmp_path / "four.json"), "--front", "accuracy,energy,size,macs", "--plot", str(page),
                 "--format", "csv"]) == 0
    html = page.read_text()
    assert 'id="pairwise"' in html and 'id="parallel"' in html and '"format": "svg"' in html
    assert "<script src" not in html  # self-contained: plotly inlined, nothing fetched
    assert html.count("<tr>") == 1 + len(HAND)  # the table under the plots
    draws_in_browser(page, ("pairwise", "parallel"))
    assert main(["compare", str(tmp_path / "four.json"), "--front", "accuracy", "--plot", str(page)]) == 2
    assert "--plot: needs at least two objectives" in capsys.readouterr().err


@pytest.mark.slow
def test_records_of_every_command_in_one_table(capsys, saved_model, tmp_path):
    assert main(["train", "--arch", "lenet-tiny", "--epochs", "1", "--seed", "1", "-o", str(tmp_path / "t.json")]) == 0
    assert main(["bench", "build", "--space", "lenet", "--n", "1", "--epochs", "1", "--images", "20", "--proxies", "nwot",
                 "--workers", "1", "--store", str(tmp_path / "bench.db")]) == 0
    assert main(["compress", saved_model, "--bits", "8", "--no-robust", "-o", str(tmp_path / "c.json")]) == 0
    assert main(["approx", saved_model, "--multiplier", "trunc:k=6", "--no-robust", "-o", str(tmp_path / "a.json")]) == 0
    assert main(["robustness", saved_model, "--preset", "fast", "--images", "30", "-o", str(tmp_path / "r.json")]) == 0
    assert main(["faults", saved_model, "--bits", "8", "--rate", "0.01", "--trials", "2", "-o", str(tmp_path / "f.json")]) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path), str(tmp_path / "bench.db"), "--baseline", "float", "--where", "energy<=0.5x"]) == 0
    out = capsys.readouterr().out
    assert "bits=8" in out and "multiplier=trunc:k=6" in out and "…" not in out
    assert main(["compare", str(tmp_path), str(tmp_path / "bench.db"), "--format", "csv", "-o", str(tmp_path / "all.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "all.csv").open()))
    assert {r["variant"] for r in rows} >= {"", "bits=8", "multiplier=trunc:k=6"}
    assert any(r.get("accuracy@faults:weights:0.01") for r in rows)
    assert any(r.get("robust_accuracy@worst:fast:0.1") and r["seed"] == "0" for r in rows)  # the bench build's
    assert len({r["architecture"] for r in rows}) >= 2


def test_piped_output_is_never_cut(tmp_path):
    (tmp_path / "hand.json").write_text(json.dumps([r.to_dict() for r in HAND]))
    res = subprocess.run([sys.executable, "-m", "paretonet.cli", "compare", str(tmp_path / "hand.json"), "--baseline", "0"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "…" not in res.stdout and "energy_pj@horowitz45:hierarchy" in res.stdout.replace("\n", "")


BAD = {
    "unknown objective in --where": (lambda t: [t / "hand.json", "--where", "latency<=2"], "--where: unknown objective"),
    "not a record": (lambda t: [t / "other.json"], "holds no Records"),
    "not JSON": (lambda t: [t / "notes.json"], "notes.json: not valid JSON"),
    "mixed datasets": (lambda t: [t / "hand.json", t / "fashion.json"], "pass --allow-mixed"),
    "relative bound without baseline": (lambda t: [t / "hand.json", "--where", "energy<=0.5x"], "needs --baseline"),
    "unknown format": (lambda t: [t / "hand.json", "--format", "xlsx"], "--format: got 'xlsx'"),
    "unknown baseline": (lambda t: [t / "hand.json", "--baseline", "bits=3"], "no record has the variant 'bits=3'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, case):
    (tmp_path / "hand.json").write_text(json.dumps([r.to_dict() for r in HAND]))
    (tmp_path / "fashion.json").write_text(json.dumps(_rec("", 0.9, 1.0, 1.0, "fashion-mnist").to_dict()))
    (tmp_path / "other.json").write_text(json.dumps({"trials": 3}))
    (tmp_path / "notes.json").write_text("not json")
    make, message = BAD[case]
    code = main(["compare", *map(str, make(tmp_path))])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(err) == 1 and message in err[0], err
