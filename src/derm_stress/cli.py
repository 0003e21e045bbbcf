"""The ``derm-stress`` command line: a thin click layer over the Python API."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from derm_stress.errors import DermStressError

DEFAULT_RUNS = Path("runs")


def _echo_summary(summary: Any) -> None:
    click.echo(
        f"{summary.cases} cases x {summary.conditions} conditions x {summary.models} model(s) "
        f"= {summary.expected} results: {summary.calls} model calls, "
        f"{summary.reused} reused from the store ({summary.seconds:.1f} s)"
    )
    if summary.calls == 0 and summary.reused:
        click.echo("every result was already stored: no model was called")
    problems = []
    if summary.dataset_issues:
        problems.append(f"{summary.dataset_issues} dataset rows not loaded")
    if summary.input_errors:
        problems.append(f"{summary.input_errors} results with unusable input")
    if summary.model_errors:
        problems.append(f"{summary.model_errors} failed model calls")
    if problems:
        click.echo("problems: " + "; ".join(problems) + " (listed in the report)")


def _run_and_report(
    config_path: Path,
    out: Path | None,
    quiet: bool,
    executor: str = "local",
    address: str | None = None,
    max_calls: int | None = None,
    max_cost: float | None = None,
) -> Path:
    from derm_stress.report import write_report
    from derm_stress.run import Budget, load_config, make_executor, make_progress, run

    config = load_config(config_path)
    out_dir = out or DEFAULT_RUNS / config.name
    summary = run(
        config,
        out_dir,
        progress=make_progress(quiet),
        executor=make_executor(executor, address),
        budget=Budget(max_calls, max_cost),
    )
    _echo_summary(summary)
    if summary.stopped:
        click.echo(f"stopped early: {summary.stopped}; run again (with a larger budget) to go on")
    return write_report(out_dir)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="derm-stress")
def cli() -> None:
    """Stress-test multimodal dermatology models under clinic-realistic perturbations.

    Typical use: `derm-stress run perturbations/quickstart.yaml`, then open the report
    path it prints. `derm-stress demo` does that on the bundled sample and reference model.
    """


@cli.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=DEFAULT_RUNS / "demo",
    show_default=True,
    help="Run directory (store, manifest, report).",
)
@click.option("--quiet", is_flag=True, help="No progress lines.")
def demo(out: Path, quiet: bool) -> None:
    """Run the quickstart grid on the bundled PAD-UFES-20 sample with the reference model,
    and print the path of the HTML report."""
    from derm_stress.perturb.presets import preset_path

    report = _run_and_report(preset_path("quickstart"), out, quiet)
    click.echo(f"report: {report.resolve()}")


@cli.command("run")
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Run directory [default: runs/<config name>]. Re-using one resumes it.",
)
@click.option("--quiet", is_flag=True, help="No progress bar or lines (CI logs).")
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where perturbation and local models run: this machine, or a Ray cluster.",
)
@click.option(
    "--address",
    default=None,
    help="Ray cluster address (with --executor ray; 'auto' joins `ray start`'s cluster; "
    "default: start a local one).",
)
@click.option("--max-calls", type=click.IntRange(min=0), default=None, help="Stop after N calls.")
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop once the estimated cost reaches USD (calls in flight complete).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Call nothing: per model, the calls the run would make, those already stored, and "
    "the estimated tokens and cost.",
)
def run_cmd(
    config: Path,
    out: Path | None,
    quiet: bool,
    executor: str,
    address: str | None,
    max_calls: int | None,
    max_cost: float | None,
    dry_run: bool,
) -> None:
    """Run CONFIG (a YAML grid plus optional dataset, models, seed, top_k).

    Results already in the run directory's store are reused, never recomputed; Ctrl-C
    stops cleanly (what was answered is stored); the HTML report is rewritten at the end
    and its path printed.
    """
    if dry_run:
        from derm_stress.run import load_config
        from derm_stress.run.dryrun import format_plan, plan_run

        parsed = load_config(config)
        click.echo(format_plan(plan_run(parsed, out or DEFAULT_RUNS / parsed.name)))
        return
    report = _run_and_report(config, out, quiet, executor, address, max_calls, max_cost)
    click.echo(f"report: {report.resolve()}")


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Output file [default: RUN_DIR/report.html].",
)
@click.option(
    "--redact-notes", is_flag=True, help="Leave note contents out of the report (gallery)."
)
@click.option(
    "--compare",
    "other",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also compare with another run (B) side by side: RUN_DIR/comparison.html.",
)
def report(run_dir: Path, out: Path | None, redact_notes: bool, other: Path | None) -> None:
    """(Re)write the self-contained HTML report of RUN_DIR; with --compare, also the
    side-by-side comparison of RUN_DIR (A) and OTHER (B), paired per case."""
    from derm_stress.report import write_comparison, write_report
    from derm_stress.run import load_run

    run = load_run(run_dir)  # once, for the report and the comparison
    click.echo(f"report: {write_report(run, out, redact_notes).resolve()}")
    if other is not None:
        click.echo(f"comparison: {write_comparison(run, other).resolve()}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
def ops(as_json: bool) -> None:
    """List every perturbation operator with its severity table."""
    from derm_stress.perturb import describe, registry

    described = [describe(cls) for _, cls in sorted(registry().items())]
    if as_json:
        click.echo(json.dumps(described, indent=1))
        return
    for kind in ("image", "note"):
        click.echo(f"{kind} operators:")
        for op in (d for d in described if d["kind"] == kind):
            click.echo(f"  {op['name']:<22} {op['family']:<11} {op['description']}")
            for severity, params in op["severities"].items():
                text = ", ".join(f"{k}={v}" for k, v in params.items())
                click.echo(f"  {'':<22} {'':<11}   {severity}: {text}")
            if op["options"]:
                click.echo(f"  {'':<22} {'':<11}   options: {', '.join(op['options'])}")


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Output file [default: RUN_DIR/results.<format>].",
)
def export(run_dir: Path, fmt: str, out: Path | None) -> None:
    """Write one row per model x case x condition of RUN_DIR to CSV or Parquet."""
    from derm_stress.run import export_run, load_run

    path = export_run(load_run(run_dir), fmt, out or run_dir / f"results.{fmt}")
    click.echo(f"wrote {path}")


def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--option")
        parsed = yaml.safe_load(value) if value else None
        options[key] = parsed.split(",") if isinstance(parsed, str) and "," in parsed else parsed
    return options


@cli.command()
@click.option("--op", "op_name", required=True, help="Image operator name (see `ops`).")
@click.option("--severity", type=click.IntRange(0, 5), default=3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Operator option, e.g. --option direction=darker (repeatable).",
)
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Output file for one input, folder for several (written as PNG).",
)
def perturb(
    op_name: str,
    severity: int,
    seed: int,
    options: tuple[str, ...],
    images: tuple[Path, ...],
    out: Path,
) -> None:
    """Apply one image operator to IMAGES, to look at the result.

    Each file is treated as a case whose id is its file stem, so the output is byte for byte
    what a run with the same seed sends a model for that case under img=OP@SEVERITY. The
    applied records are printed as JSON lines.
    """
    from PIL import Image

    from derm_stress.cases import Case, Note
    from derm_stress.errors import InvalidArgument
    from derm_stress.images import load_image
    from derm_stress.perturb import Condition, build_probe, make_operator

    op = make_operator(op_name, severity, **_parse_options(options))
    if op.kind != "image":
        raise InvalidArgument(f"{op_name!r} is a note operator; perturb takes image operators")
    condition = Condition(image_ops=(op,))
    if len(images) > 1:
        out.mkdir(parents=True, exist_ok=True)
    for path in images:
        case = Case(path.stem, (path,), Note(), "NEV")  # the label is never read here
        probe = build_probe(case, condition, seed, [load_image(path)])
        target = out / f"{path.stem}.png" if len(images) > 1 else out
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(probe.images[0]).save(target)
        for record in probe.applied:
            click.echo(json.dumps({"file": str(path), "out": str(target), **record.to_dict()}))


@cli.command()
@click.option(
    "--dataset",
    type=click.Path(path_type=Path),
    default=None,
    help="Manifest file or PAD-UFES-20 folder [default: the bundled sample].",
)
@click.option("--case", "case_id", required=True, help="Case id to show.")
@click.option(
    "--grid",
    "grid_file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Grid or run config whose operators to show.",
)
@click.option("--seed", type=int, default=None, help="Seed [default: the grid's, else 0].")
@click.option(
    "--size",
    type=click.IntRange(48, 512),
    default=160,
    show_default=True,
    help="Cell size in pixels.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Sheet image (PNG); the notes go beside it as .txt.",
)
def preview(
    dataset: Path | None, case_id: str, grid_file: Path, seed: int | None, size: int, out: Path
) -> None:
    """Write a contact sheet for one case: rows are the grid's image operators, columns
    severities; the corrupted notes go to a text file beside it."""
    from PIL import Image

    from derm_stress.datasets import open_dataset
    from derm_stress.errors import did_you_mean
    from derm_stress.perturb.preview import contact_sheet
    from derm_stress.run import load_config

    config = load_config(grid_file)
    data = open_dataset(dataset)
    case = next((c for c in data if c.case_id == case_id), None)
    if case is None:
        raise did_you_mean(case_id, [c.case_id for c in data], "case")
    sheet = contact_sheet(case, config.conditions, config.seed if seed is None else seed, size)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet.image).save(out)
    notes = out.with_suffix(".txt")
    notes.write_text(sheet.notes, encoding="utf-8")
    click.echo(f"wrote {out} and {notes}")


@cli.group()
def grid() -> None:
    """Inspect grid files."""


@grid.command("show")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def grid_show(file: Path) -> None:
    """Print the conditions FILE expands to, and their count."""
    from derm_stress.run import load_config

    config = load_config(file)
    for condition in config.conditions:
        click.echo(condition.id)
    click.echo(f"{len(config.conditions)} conditions (baseline included)")


@cli.command("train-reference")
@click.option(
    "--data",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("data/pad-ufes-20"),
    show_default=True,
    help="A PAD-UFES-20 folder; cases in the bundled sample are left out.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Weights file [default: the packaged weights.npz].",
)
def train_reference_cmd(data: Path, out: Path | None) -> None:
    """Retrain the bundled reference model reproducibly."""
    from derm_stress.models.reference.model import WEIGHTS
    from derm_stress.models.reference.train import train_reference

    summary = train_reference(data, out or WEIGHTS)
    accuracy = ", ".join(f"{head} {value:.1%}" for head, value in summary.train_top1.items())
    click.echo(
        f"trained on {summary.cases} cases ({', '.join(summary.classes)}); "
        f"training top-1: {accuracy}; wrote {summary.out}"
    )


def main() -> None:
    """Entry point: DermStress errors are one line on stderr, exit status 2."""
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        click.echo("interrupted: results so far are stored; run again to resume", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (DermStressError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
