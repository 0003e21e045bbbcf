"""Running models over perturbation grids: config, harness, store, results and export."""

from derm_stress.run.config import RunConfig, load_config, load_dataset, parse_config
from derm_stress.run.export import export_run, to_dataframe
from derm_stress.run.harness import RunSummary, run
from derm_stress.run.results import RunData, load_run
from derm_stress.run.store import Store, result_key

__all__ = [
    "RunConfig",
    "RunData",
    "RunSummary",
    "Store",
    "export_run",
    "load_config",
    "load_dataset",
    "load_run",
    "parse_config",
    "result_key",
    "run",
    "to_dataframe",
]
