"""The ``derm-stress`` command line: a thin click layer over the Python API."""

from __future__ import annotations

import inspect
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import click

from derm_stress.errors import (
    EXIT_ERROR_RATE,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_NOTHING_TO_RUN,
    EXIT_STORE_DAMAGED,
    EXIT_USAGE,
    DermStressError,
    PluginError,
)
from derm_stress.schema import RunStatus

DEFAULT_RUNS = Path("runs")
DEFAULT_MAX_ERROR_RATE = 0.05  # derm_stress.run.outcome (not imported here: startup time)

EXIT_CODES = f"""\b
Exit status:
  0    completed (error rate at most --max-error-rate; a budget stop counts)
  {EXIT_USAGE}    usage or config error, unreadable input: nothing was run
  {EXIT_ERROR_RATE}    completed, but the error rate is above --max-error-rate
  {EXIT_NOTHING_TO_RUN}    nothing to run: 0 cases loaded (every dataset row rejected)
  {EXIT_LOCKED}    another process is running in the run directory
  {EXIT_STORE_DAMAGED}    the result store is damaged (left as it is; see the message)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C): what was answered is stored
"""


def _exit_on_second_interrupt(signum: int, frame: FrameType | None) -> None:
    """First Ctrl-C: stop cleanly (KeyboardInterrupt); a second one exits at once."""
    signal.signal(signal.SIGINT, _exit_now)
    raise KeyboardInterrupt


def _exit_now(signum: int, frame: FrameType | None) -> None:
    os.write(2, b"interrupted again: exiting now\n")
    os._exit(EXIT_INTERRUPTED)


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
    if summary.input_warnings:
        problems.append(f"{summary.input_warnings} input warnings (multi-frame photos...)")
    if problems:
        click.echo("problems: " + "; ".join(problems) + " (listed in the report)")


def _echo_previous(previous: dict[str, Any] | None, where: Path) -> None:
    if previous is None:
        return
    if previous.get("status") == RunStatus.RUNNING:
        started = f" (started {previous['started']})" if previous.get("started") else ""
        click.echo(
            f"note: the previous run in {where}{started} ended abnormally (killed or "
            "stopped without finishing); its stored results are kept and this run goes on",
            err=True,
        )
    elif previous.get("status") == "unreadable manifest":
        click.echo(
            f"note: the manifest in {where} was unreadable (a write that never finished); "
            "this run rewrote it and kept the stored results",
            err=True,
        )
    elif previous.get("tidied"):
        click.echo(f"note: removed a leftover manifest.json.tmp in {where}", err=True)


def _run_and_report(
    config_path: Path,
    out: Path | None,
    quiet: bool,
    executor: str = "local",
    address: str | None = None,
    max_calls: int | None = None,
    max_cost: float | None = None,
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE,
) -> tuple[Path, int]:
    """Run, write the report; returns its path and the exit status."""
    from derm_stress.report import write_report
    from derm_stress.run import Budget, load_config, load_run, make_executor, make_progress, run
    from derm_stress.run.config import check_run_name
    from derm_stress.run.outcome import outcome

    config = load_config(config_path)
    out_dir = out or DEFAULT_RUNS / check_run_name(config.name)
    summary = run(
        config,
        out_dir,
        progress=make_progress(quiet),
        executor=make_executor(executor, address),
        budget=Budget(max_calls, max_cost),
    )
    _echo_previous(summary.previous_run, out_dir)
    _echo_summary(summary)
    if summary.stopped:
        click.echo(f"stopped early: {summary.stopped}; run again (with a larger budget) to go on")
    loaded = load_run(out_dir)
    report = write_report(loaded)
    result = outcome(loaded)
    if result.error_rate > max_error_rate:
        click.echo(
            f"{result.describe()}: above --max-error-rate {max_error_rate:.1%} "
            f"(exit status {EXIT_ERROR_RATE})",
            err=True,
        )
        return report, EXIT_ERROR_RATE
    return report, 0


DATASET_HELP = (
    "Manifest file, or a folder in a published layout (PAD-UFES-20, HAM10000, ISIC,"
    " Fitzpatrick17k, DDI, SCIN, Derm7pt; detected) [default: the bundled sample]."
)


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

    signal.signal(signal.SIGINT, _exit_on_second_interrupt)
    report, status = _run_and_report(preset_path("quickstart"), out, quiet)
    click.echo(f"report: {report.resolve()}")
    sys.exit(status)


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
    type=click.Choice(["local", "ray"]),  # = derm_stress.run.executors.EXECUTORS (a test checks)
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
@click.option(
    "--max-error-rate",
    type=click.FloatRange(0, 1),
    default=DEFAULT_MAX_ERROR_RATE,
    show_default=True,
    help="Exit with status 3 when more than this share of the grid failed: failed model "
    "calls, unusable inputs and rejected dataset rows (each counting for all its results).",
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
    max_error_rate: float,
) -> None:
    """Run CONFIG (a YAML grid plus optional dataset, models, seed, top_k).

    Results already in the run directory's store are reused, never recomputed; the run
    directory is locked while a run uses it. Ctrl-C stops within seconds (what was
    answered is stored), a second Ctrl-C at once; the HTML report is rewritten at the end
    and its path printed.
    """
    if dry_run:
        from derm_stress.run import load_config
        from derm_stress.run.config import check_run_name
        from derm_stress.run.dryrun import format_plan, plan_run

        parsed = load_config(config)
        click.echo(format_plan(plan_run(parsed, out or DEFAULT_RUNS / check_run_name(parsed.name))))
        return
    signal.signal(signal.SIGINT, _exit_on_second_interrupt)
    report, status = _run_and_report(
        config, out, quiet, executor, address, max_calls, max_cost, max_error_rate
    )
    click.echo(f"report: {report.resolve()}")
    sys.exit(status)


run_cmd.help = f"{inspect.cleandoc(run_cmd.help or '')}\n\n{EXIT_CODES}"


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
    "--redact-notes",
    is_flag=True,
    help="Leave note contents (gallery) and model error text out of the report.",
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
    from derm_stress.run.results import ENDED_ABNORMALLY

    run = load_run(run_dir)  # once, for the report and the comparison
    if run.manifest.status == ENDED_ABNORMALLY:
        click.echo(
            f"note: the run in {run_dir} ended abnormally (its manifest says running, no "
            "process holds it); the report shows what was stored. Run the config again "
            "into it to finish",
            err=True,
        )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
    click.echo(f"report: {write_report(run, out, redact_notes).resolve()}")
    if other is not None:
        click.echo(f"comparison: {write_comparison(run, other).resolve()}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
@click.option(
    "--grid",
    "grid_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="List the operators of this grid or run config instead, with the severity tables "
    "it uses (including albumentations tables).",
)
def ops(as_json: bool, grid_file: Path | None) -> None:
    """List every perturbation operator with its severity table. A plugin operator that
    fails to load is named on stderr and the command exits 1 (the others are listed)."""
    from derm_stress.perturb import describe, registry

    broken: list[PluginError] = []
    if grid_file is not None:
        described = _grid_operators(grid_file)
    else:
        found = registry(configured=True, on_broken=broken.append)
        described = [describe(cls) for _, cls in sorted(found.items())]
    if as_json:
        click.echo(json.dumps(described, indent=1))
        _report_broken(broken)
        return
    for kind in ("image", "note"):
        chosen = [d for d in described if d["kind"] == kind]
        if not chosen:
            continue
        click.echo(f"{kind} operators:")
        for op in chosen:
            click.echo(f"  {op['name']:<22} {op['family']:<11} {op['description']}")
            for severity, params in op["severities"].items():
                text = ", ".join(f"{k}={v}" for k, v in params.items())
                click.echo(f"  {'':<22} {'':<11}   {severity}: {text}")
            if op["options"]:
                shown = (
                    ", ".join(f"{k}={v}" for k, v in op["options"].items())
                    if grid_file is not None
                    else ", ".join(op["options"])
                )
                click.echo(f"  {'':<22} {'':<11}   options: {shown}")
    _report_broken(broken)


def _report_broken(broken: Sequence[PluginError]) -> None:
    """Name each plugin operator that failed to load (the listing shows the others) and
    exit 1, so a check of the installed operators fails."""
    for error in broken:
        click.echo(f"error: {error}", err=True)
    if broken:
        sys.exit(1)


def _grid_operators(path: Path) -> list[dict[str, Any]]:
    """One description per operator (label without severity) used in a grid, with the
    severity table rows it runs."""
    from derm_stress.perturb import Operator, describe
    from derm_stress.perturb.compose import OneOf
    from derm_stress.run import load_config

    found: dict[str, dict[str, Any]] = {}
    for condition in load_config(path).conditions:
        stack: list[Operator[Any]] = [*condition.image_ops, *condition.note_ops]
        while stack:
            op = stack.pop(0)
            if isinstance(op, OneOf):
                stack[:0] = op.choices
                continue
            tag = f"@{op.severity}"
            name = op.label[: -len(tag)] if op.label.endswith(tag) else op.label
            entry = found.setdefault(name, {**describe(type(op)), "name": name, "severities": {}})
            entry["options"] = {  # the options this grid sets (tables are listed as rows)
                k: v
                for k, v in op.config.items()
                if v != type(op).options.get(k) and k not in ("table", "pipeline")
            }
            if op.severity:
                entry["severities"][str(op.severity)] = dict(op.severities.get(op.severity, {}))
    for entry in found.values():
        entry["severities"] = dict(sorted(entry["severities"].items()))
    return list(found.values())


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
    help=DATASET_HELP,
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


@cli.command()
@click.argument("target", metavar="OPERATOR-OR-GRID")
@click.option(
    "--dataset",
    type=click.Path(path_type=Path),
    default=None,
    help=DATASET_HELP,
)
@click.option(
    "--cases",
    "n_cases",
    type=click.IntRange(min=1),
    default=12,
    show_default=True,
    help="Photos to average over, spread across diagnoses.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable curves.")
def calibrate(target: str, dataset: Path | None, n_cases: int, seed: int, as_json: bool) -> None:
    """Print the mean similarity to the clean photo per severity of an image operator (a
    name) or of each single-operator image condition of a grid file (e.g. an albumentations
    severity table), and whether it falls with severity. Exit status 1 if any does not."""
    from derm_stress.datasets import open_dataset
    from derm_stress.perturb.calibrate import calibrate as run_calibration
    from derm_stress.perturb.calibrate import operators_of, spread_cases

    ops, skipped = operators_of(target)
    cases = spread_cases(list(open_dataset(dataset)), n_cases)
    curves = run_calibration(ops, cases, seed)
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in curves], indent=1))
    else:
        width = max(len(c.operator) for c in curves)
        levels = sorted({s for c in curves for s in c.means})
        click.echo(
            f"mean similarity to the clean photo ({len(cases)} photos, seed {seed}; 1.0 = "
            "identical)"
        )
        click.echo(f"{'operator':<{width}}  " + "  ".join(f"{s:>6}" for s in levels) + "  falls")
        for c in curves:
            cells = "  ".join(f"{c.means[s]:6.3f}" if s in c.means else f"{'':>6}" for s in levels)
            click.echo(f"{c.operator:<{width}}  {cells}  {'yes' if c.falls else 'NO'}")
        if skipped:
            click.echo(f"skipped {skipped} image conditions that are not a single operator")
    bad = [c.operator for c in curves if not c.falls]
    if bad:
        click.echo(f"not falling with severity: {', '.join(bad)}", err=True)
        sys.exit(1)


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
    """Entry point: DermStress errors are one line on stderr, with their exit status
    (``EXIT_CODES``; 2 for usage and config errors)."""
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        click.echo("interrupted: results so far are stored; run again to resume", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        # everything is stored and the manifest written: do not wait for model calls
        # still running on abandoned threads (Python would join them at exit)
        os._exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DermStressError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
