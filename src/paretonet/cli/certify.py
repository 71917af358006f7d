"""`paretonet certify`: certified robust accuracy (lower bounds) next to the attacks' (upper bounds)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import ConfigError
from ._common import (
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
    from ..evaluate import (
        RobustnessConfig,
        SmoothingConfig,
        certify_smoothing,
        evaluate_objectives,
        evaluate_robustness,
        ibp_certified,
        images_id,
        predict_logits,
    )
    from ..layers import has_gradient_free_layers
    from ..pipeline import load_for_eval
    from ..records import Record, eps_label, per_image_accuracy, versions
    from ..variant import select_images

    check_format(fmt)
    rs = numbers("--radii", radii, float, "0,0.25,0.5")
    if min(rs) < 0:
        raise ConfigError(f"--radii: got {min(rs):g}, expected radii >= 0")
    if not 0.0 <= eps <= 1.0:
        raise ConfigError(f"--eps: got {eps:g}, expected a number in [0, 1]")
    cfg = SmoothingConfig(sigma=sigma, n0=n0, n=n, alpha=alpha, seed=seed)
    net, meta, data = load_for_eval(model, None, data_dir, 0)
    x, y = select_images(data, images, seed)
    objectives = list(evaluate_objectives(net, data, ("accuracy",)))
    budgets: dict = {"test_images": len(data.test), "certify_images": len(x)}
    sm = certify_smoothing(net, x, y, cfg)
    objectives += [per_image_accuracy(f"certified_accuracy@smoothing:l2:{eps_label(r)}", sm.certified(r), sm.images_id)
                   for r in rs]
    budgets.update({"smoothing_sigma": sigma, "smoothing_n0": n0, "smoothing_n": n, "smoothing_alpha": alpha,
                    "smoothing_seed": seed, "smoothing_abstentions": sm.abstentions})
    st = Table(title=f"randomized smoothing, sigma {sigma:g}, n {n:,}, alpha {alpha:g}: {len(x)} images, "
                     f"{sm.abstentions} abstained")
    for col in ("L2 radius", "certified accuracy"):
        st.add_column(col, justify="right")
    for r, o in zip(rs, objectives[1:]):
        st.add_row(f"{r:g}", f"{o.value:.4f}")
    show(st, fmt)
    lt = Table(title=f"Linf eps {eps:g} on the same {len(x)} images: certified (a lower bound) <= robust under attack "
                     "(an upper bound) <= clean")
    for col in ("bound", "objective", "accuracy"):
        lt.add_column(col, justify="right" if col == "accuracy" else "left")
    if has_gradient_free_layers(net):
        say("note: interval bounds need the float model (quantized or approximate layers have none): IBP skipped", fmt)
    else:
        try:
            ibp = per_image_accuracy(f"certified_accuracy@ibp:linf:{eps_label(eps)}", ibp_certified(net, x, y, eps),
                                     images_id(x, y))
        except ConfigError as e:  # a module interval bounds do not know (a user's residual block): said, not fatal
            say(f"note: {e}; IBP skipped", fmt)
        else:
            objectives.append(ibp)
            lt.add_row("certified (IBP)", ibp.name, f"{ibp.value:.4f}")
    if not no_robust:
        r = evaluate_robustness(net, x, y, RobustnessConfig(eps=eps, preset=preset, seed=seed, queries=queries))
        objectives.append(r.objective())
        budgets.update(r.budgets())
        lt.add_row("attacks", objectives[-1].name, f"{objectives[-1].value:.4f}")
    clean = float((predict_logits(net, x).argmax(1) == y).double().mean())
    lt.add_row("clean", "accuracy on these images", f"{clean:.4f}")
    show(lt, fmt)
    write_records(output, [Record(meta.architecture, data.name, meta.seed, tuple(objectives), variant=meta.variant,
                                  budgets=budgets, versions=versions())])
