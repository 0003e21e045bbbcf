"""Running models over perturbation grids: config, harness, store, results and export."""

from derm_stress.run.config import RunConfig, load_config, load_dataset, parse_config
from derm_stress.run.executors import Executor, LocalExecutor, RayExecutor, make_executor
from derm_stress.run.export import export_run, to_dataframe
from derm_stress.run.harness import Budget, RunSummary, run
from derm_stress.run.progress import RunProgress, make_progress
from derm_stress.run.results import RunData, load_run
from derm_stress.run.store import Store, result_key

__all__ = [
    "Budget",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "RunConfig",
    "RunData",
    "RunProgress",
    "RunSummary",
    "Store",
    "export_run",
    "load_config",
    "load_dataset",
    "load_run",
    "make_executor",
    "make_progress",
    "parse_config",
    "result_key",
    "run",
    "to_dataframe",
]
