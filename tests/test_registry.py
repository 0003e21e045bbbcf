"""The one Registry type: names, lazy entries, entry points, checks; and its four uses."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from derm_stress.datasets.benchmarks import LAYOUTS, Layout
from derm_stress.errors import MissingDependency, PluginError, UnknownName, require
from derm_stress.models import ADAPTERS, Answer, Model, make_model
from derm_stress.perturb.base import OPERATORS, Operator
from derm_stress.perturb.condition import Probe
from derm_stress.registry import Registry
from derm_stress.run.executors import EXECUTORS, Executor, make_executor


class Thing:
    pass


class Other:
    pass


def _dist(root: Path, name: str, group: str, entries: dict[str, str]) -> None:
    """An installed distribution as importlib.metadata sees one: a dist-info folder."""
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entries.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}")


def test_register_get_list_and_did_you_mean() -> None:
    things: Registry[type[Thing]] = Registry("thing", Thing)

    @things.register("alpha")
    class Alpha(Thing):
        pass

    things.register(type("Beta", (Thing,), {}), name="beta")
    assert things.get("alpha") is Alpha and things.names() == ["alpha", "beta"]
    assert "alpha" in things and len(things) == 2 and list(things) == ["alpha", "beta"]
    with pytest.raises(UnknownName, match=r"unknown thing 'alpah'; did you mean 'alpha'\?"):
        things.get("alpah")


def test_duplicates_and_wrong_kinds_are_refused_naming_both_origins() -> None:
    things: Registry[type[Thing]] = Registry("thing", Thing)
    things.register(Thing, name="t")
    with pytest.raises(ValueError, match=r"'t' is already registered by .*Thing.*test_registry"):
        things.register(type("Again", (Thing,), {}), name="t")
    with pytest.raises(TypeError, match=r"is not a subclass of .*Thing"):
        things.register(Other, name="o")  # type: ignore[arg-type]
    objects: Registry[Thing] = Registry("object", Thing, instances=True)
    with pytest.raises(TypeError, match="is not an instance of"):
        objects.register(Thing, name="cls")  # type: ignore[arg-type]


def test_lazy_entries_are_imported_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lazy_thing_mod.py").write_text(
        "from tests.test_registry import Thing\nclass Lazy(Thing):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    things: Registry[type[Thing]] = Registry("thing", Thing)
    things.register_lazy("lazy", "lazy_thing_mod:Lazy")
    assert things.names() == ["lazy"] and "lazy_thing_mod" not in sys.modules
    assert things.get("lazy").__name__ == "Lazy" and "lazy_thing_mod" in sys.modules
    monkeypatch.delitem(sys.modules, "lazy_thing_mod")
    things.register_lazy("broken", "no_such_module_here:Thing")
    with pytest.raises(PluginError, match=r"thing 'broken' .* failed to load: ModuleNotFound"):
        things.get("broken")


def test_entry_points_are_read_on_first_use_and_failures_name_the_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = "derm_stress_test.things"
    (tmp_path / "thing_plugin.py").write_text(
        "from tests.test_registry import Thing, Other\n"
        "class Good(Thing):\n    pass\n"
        "class Bad(Other):\n    pass\n"
    )
    _dist(tmp_path, "thing-plugin", group, {
        "good": "thing_plugin:Good",
        "wrong_kind": "thing_plugin:Bad",
        "missing": "thing_plugin_gone:Good",
    })  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    things: Registry[type[Thing]] = Registry("thing", Thing, group=group)
    assert things.names() == ["good", "missing", "wrong_kind"]  # listed, nothing loaded
    assert things.get("good").__name__ == "Good"
    with pytest.raises(PluginError) as missing:
        things.get("missing")
    text = str(missing.value)
    assert "entry point missing = thing_plugin_gone:Good" in text
    assert "distribution thing-plugin 1.0" in text and "ModuleNotFoundError" in text
    with pytest.raises(PluginError, match=r"wrong_kind.*thing-plugin.*not a subclass of"):
        things.get("wrong_kind")
    monkeypatch.delitem(sys.modules, "thing_plugin")


def test_an_entry_point_clashing_with_a_built_in_is_refused_naming_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = "derm_stress_test.clash"
    _dist(tmp_path, "clashing-plugin", group, {"t": "tests.test_registry:Thing"})
    monkeypatch.syspath_prepend(str(tmp_path))
    things: Registry[type[Thing]] = Registry("thing", Thing, group=group)
    things.register(Thing, name="t")
    with pytest.raises(PluginError, match=r"'t' is registered twice: by .*Thing.* and by "
                       r"entry point t = .*distribution clashing-plugin 1.0"):  # fmt: skip
        things.names()


def test_the_four_registries_share_the_type() -> None:
    for registry, base in ((OPERATORS, Operator), (ADAPTERS, Model), (EXECUTORS, Executor),
                           (LAYOUTS, Layout)):  # fmt: skip
        assert isinstance(registry, Registry) and registry.base is base
    assert {"exposure", "misleading_referral"} <= set(OPERATORS.names())
    assert set(ADAPTERS.names()) >= {"reference", "callable", "openai", "hf"}
    assert EXECUTORS.names() == ["local", "ray"]
    assert "ham10000" in LAYOUTS.names()


def test_cli_executor_choices_are_the_registry() -> None:
    from derm_stress.cli import cli

    option = next(p for p in cli.commands["run"].params if p.name == "executor")
    assert list(option.type.choices) == EXECUTORS.names()  # type: ignore[attr-defined]


def test_unknown_executor_suggests_the_close_one() -> None:
    with pytest.raises(UnknownName, match=r"unknown executor 'locl'; did you mean 'local'\?"):
        make_executor("locl")


class _Buggy(Model):
    adapter = "buggy"

    def __init__(self, name: str, size: int = 1) -> None:
        super().__init__(name)
        self.size = len(size)  # type: ignore[arg-type]  # a bug: TypeError inside

    def answer(self, probes: Sequence[Probe]) -> list[Answer]:
        return []


def test_a_bug_inside_an_adapter_constructor_surfaces_as_itself() -> None:
    ADAPTERS.register(_Buggy, name="buggy")
    try:
        with pytest.raises(TypeError, match="object of type 'int' has no len"):
            make_model({"adapter": "buggy", "size": 3})
        with pytest.raises(ValueError, match="unknown setting 'sise'; did you mean 'size'"):
            make_model({"adapter": "buggy", "sise": 3})
    finally:
        ADAPTERS.unregister("buggy")


def test_operator_options_suggest_close_names() -> None:
    from derm_stress.perturb import make_operator

    with pytest.raises(ValueError, match=r"unknown option 'bloks' .*did you mean 'blocks'\?"):
        make_operator("drop_block", 1, bloks=["history"])


def test_missing_dependency_is_an_import_error_from_one_helper() -> None:
    with pytest.raises(MissingDependency) as caught:
        require("derm_stress_no_such_package", "hf", "the test")
    assert isinstance(caught.value, ImportError)
    assert caught.value.name == "derm_stress_no_such_package"
    assert str(caught.value) == (
        "the test needs derm_stress_no_such_package: pip install 'derm-stress[hf]'"
    )


def test_no_hand_written_install_hints_remain() -> None:
    """Every optional-dependency message comes from ``require`` (docs may quote it)."""
    src = Path(__file__).resolve().parents[1] / "src" / "derm_stress"
    hint = re.compile(r"(?<!``)pip install 'derm-stress\[")
    offenders = [
        path.name
        for path in src.rglob("*.py")
        if path.name != "errors.py" and hint.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_report_import_leaves_matplotlib_alone() -> None:
    import subprocess

    script = textwrap.dedent(
        """
        import matplotlib
        matplotlib.rcParams["font.size"] = 13.0
        before = dict(matplotlib.rcParams)
        import derm_stress.report, derm_stress.report.plots, derm_stress.report.gaps
        from tests.report.test_plots import _grid
        from derm_stress.report.plots import severity_curves
        assert severity_curves(_grid(["a"]), "top1", 3, ["a"]) is not None
        assert matplotlib.get_backend() == "pdf", matplotlib.get_backend()
        assert dict(matplotlib.rcParams) == before
        import sys
        assert "matplotlib.pyplot" not in sys.modules
        print("ok")
        """
    )
    import os

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "MPLBACKEND": "pdf"},
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_property_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from derm_stress.datasets import load_sample
    from derm_stress.models import ReferenceModel
    from derm_stress.perturb import Condition
    from derm_stress.testing import properties

    monkeypatch.setattr(properties, "CACHE_SIZE", 3)
    monkeypatch.setattr(properties, "_CACHE", type(properties._CACHE)())
    model, case = ReferenceModel("reference"), load_sample().cases[0]
    first = properties.ask(model, case, Condition(), seed=0)
    assert properties.ask(model, case, Condition(), seed=0) is first  # a hit
    for seed in range(1, 6):
        properties.ask(model, case, Condition(), seed=seed)
    assert len(properties._CACHE) == 3
    assert [key[-1] for key in properties._CACHE] == [3, 4, 5]  # least recent dropped first


def test_importing_derm_stress_reads_no_entry_points() -> None:
    import os
    import subprocess

    script = textwrap.dedent(
        """
        import importlib.metadata as md
        groups = []
        real = md.entry_points
        def spy(**kw):
            groups.append(kw.get("group"))
            return real(**kw)
        md.entry_points = spy
        import derm_stress.registry
        derm_stress.registry.entry_points = spy
        import derm_stress.cli, derm_stress.perturb, derm_stress.models, derm_stress.run
        import derm_stress.report, derm_stress.datasets, derm_stress.testing
        assert not [g for g in groups if g and g.startswith("derm_stress")], groups
        from derm_stress.perturb import get_operator
        get_operator("defocus")
        assert "derm_stress.operators" in groups, groups
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True, text=True, timeout=120, check=False, env=dict(os.environ),
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_a_listing_leaves_out_a_broken_entry_and_hands_it_over() -> None:
    things: Registry[type[Thing]] = Registry("thing", Thing)
    things.register(Thing, name="good")
    things.register_lazy("broken", "no_such_module_here:Thing")
    with pytest.raises(PluginError, match="'broken'"):
        things.items()
    seen: list[PluginError] = []
    assert things.items(on_broken=seen.append) == [("good", Thing)]
    assert len(seen) == 1 and "no_such_module_here" in str(seen[0])
    with pytest.raises(PluginError):  # by name it still fails loudly
        things.get("broken")


def _env(root: Path, broken_plugin: bool = True) -> dict[str, str]:
    """The environment of a subprocess that sees ``root`` on its path, where ``broken_plugin``
    puts an installed distribution whose operator entry point cannot be imported."""
    root.mkdir(parents=True, exist_ok=True)
    if broken_plugin:
        _dist(root, "broken-ops", "derm_stress.operators", {"fogged": "broken_ops_gone:Fogged"})
    src = Path(__file__).resolve().parents[1] / "src"
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(src)])}


def test_ops_lists_the_working_operators_and_names_a_broken_plugin(tmp_path: Path) -> None:
    env = _env(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "derm_stress", "ops"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1, done.stderr
    assert "motion_blur" in done.stdout and "misleading_referral" in done.stdout
    assert "operator 'fogged'" in done.stderr and "distribution broken-ops 1.0" in done.stderr
    assert "ModuleNotFoundError" in done.stderr


def test_a_report_needs_no_plugin_and_survives_a_broken_one(tmp_path: Path) -> None:
    """Operator families come from the run's manifest, not the registry: a broken plugin
    installed beside derm-stress neither stops nor changes a report."""
    run = tmp_path / "run"
    shutil.copytree(Path(__file__).parent / "data" / "schema_v1" / "run", run)
    clean = subprocess.run(
        [sys.executable, "-m", "derm_stress", "report", str(run), "-o", str(tmp_path / "a.html")],
        env=_env(tmp_path / "none", broken_plugin=False),
        capture_output=True,
        text=True,
    )
    assert clean.returncode == 0, clean.stderr
    broken = subprocess.run(
        [sys.executable, "-m", "derm_stress", "report", str(run), "-o", str(tmp_path / "b.html")],
        env=_env(tmp_path / "plugins"),
        capture_output=True,
        text=True,
    )
    assert broken.returncode == 0, broken.stderr
    first, second = (tmp_path / "a.html").read_text(), (tmp_path / "b.html").read_text()
    assert "Corruption error per operator family" in first
    assert first == second
