"""`paretonet certify`: certified robust accuracy (lower bounds) next to the attacks' (upper bounds)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import ConfigError
from ._common import (
    TrustCodeOpt,
    AttackPresetOpt,
    DataDirOpt,
    FormatOpt,
    ImagesOpt,
    ModelArg,
    NoRobustOpt,
    OutputOpt,
    QueriesOpt,
    SeedOpt,
    Table,
    app,
    check_format,
    numbers,
    say,
    show,
    write_records,
)


@app.command("certify")
def certify_cmd(
    model: ModelArg,
    trust_code: TrustCodeOpt = False,
    radii: Annotated[str, typer.Option(help="L2 radii at which randomized smoothing's certified accuracy is reported.")] = "0,0.25,0.5",
    sigma: Annotated[float, typer.Option(help="Smoothing noise std (pixels in [0, 1]).")] = 0.25,
    n: Annotated[int, typer.Option(help="Noisy copies per image that count the class.")] = 1000,
    n0: Annotated[int, typer.Option(help="Noisy copies per image that choose the class.")] = 100,
    alpha: Annotated[float, typer.Option(help="A certificate fails with probability at most alpha.")] = 0.001,
    eps: Annotated[float, typer.Option(help="Linf eps of the interval-bound certificate and of the attacks.")] = 0.1,
    preset: AttackPresetOpt = "fast",
    images: ImagesOpt = None,
    queries: QueriesOpt = 1000,
    no_robust: NoRobustOpt = False,
    data_dir: DataDirOpt = None,
    seed: SeedOpt = 0,
    output: OutputOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Randomized smoothing (L2, any model) and interval bound propagation (Linf, float models): certified accuracy,
    a lower bound of robust accuracy, beside the attacks' upper bound at the same eps. One Record."""
    from ..pipeline import CertifyJob, RobustnessConfig, SavedModel, SmoothingConfig, run_certify

    check_format(fmt)
    rs = numbers("--radii", radii, float, "0,0.25,0.5")
    if not 0.0 <= eps <= 1.0:  # named as the option before the attacks' config names it 'eps'
        raise ConfigError(f"--eps: got {eps:g}, expected a number in [0, 1]")
    job = CertifyJob(radii=rs, smoothing=SmoothingConfig(sigma=sigma, n0=n0, n=n, alpha=alpha, seed=seed), eps=eps,
                     attacks=None if no_robust else RobustnessConfig(eps=eps, preset=preset, seed=seed, queries=queries),
                     images=images, seed=seed)
    [rec] = run_certify(SavedModel(path=model, data_dir=data_dir), job)
    b, n_images = rec.budgets, rec.budgets["certify_images"]
    st = Table(title=f"randomized smoothing, sigma {sigma:g}, n {n:,}, alpha {alpha:g}: {n_images} images, "
                     f"{b['smoothing_abstentions']} abstained")
    for col in ("L2 radius", "certified accuracy"):
        st.add_column(col, justify="right")
    for r, o in zip(rs, rec.objectives[1:]):
        st.add_row(f"{r:g}", f"{o.value:.4f}")
    show(st, fmt)
    lt = Table(title=f"Linf eps {eps:g} on the same {n_images} images: certified (a lower bound) <= robust under attack "
                     "(an upper bound) <= clean")
    for col in ("bound", "objective", "accuracy"):
        lt.add_column(col, justify="right" if col == "accuracy" else "left")
    if "ibp_skipped" in rec.details:
        say(f"note: {rec.details['ibp_skipped']}; IBP skipped", fmt)
    bounds = ([] if "ibp_skipped" in rec.details else ["certified (IBP)"]) + ([] if no_robust else ["attacks"])
    for bound, o in zip(bounds, rec.objectives[1 + len(rs):]):
        lt.add_row(bound, o.name, f"{o.value:.4f}")
    lt.add_row("clean", "accuracy on these images", f"{rec.details['clean_accuracy_on_images']:.4f}")
    show(lt, fmt)
    write_records(output, [rec])
