"""Where the work of a run happens: perturbing cases and answering batches of probes.

The harness drives a run through an ``Executor`` that hands back ``concurrent.futures``
futures, so the same loop runs on this machine (``LocalExecutor``: a thread pool for the
perturbation kernels, which release the GIL in OpenCV and NumPy, and one worker thread per
model so model calls overlap perturbation) or on a Ray cluster (``RayExecutor``: perturbation
as Ray tasks, each model in actors that load their weights once; API models stay on the
driver). Results always come back to the driver, which alone writes the store.
"""

from __future__ import annotations

import logging
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from derm_stress.cases import Case
from derm_stress.errors import CaseInputError, InvalidArgument, require
from derm_stress.images import MIN_IMAGE_SIDE, decode_image, load_image
from derm_stress.labels import ENV_VARIABLE as VOCABULARY_VARIABLE
from derm_stress.labels import vocabulary
from derm_stress.models import ADAPTERS, Model, check_settings, make_model
from derm_stress.models.base import Answer, AsyncModel
from derm_stress.perturb.condition import Condition, Probe, build_probes
from derm_stress.registry import Registry


@dataclass(frozen=True)
class CaseProbes:
    """A case's probes for the conditions asked for, in order: a ``Probe``, or the reason
    its input could not be built (``error``: the photos could not be read at all).
    ``fingerprint`` and ``signature`` are the case's ``Case.fingerprint`` and
    ``Case.file_signature`` when asked for (``perturb_case(..., fingerprint=True)``)."""

    case_id: str
    probes: tuple[Probe | str, ...]
    error: str | None = None
    warnings: tuple[str, ...] = ()  # usable input that deserves a look (multi-frame photo)
    fingerprint: str | None = None
    signature: str | None = None


def perturb_case(
    case: Case,
    conditions: Sequence[Condition],
    seed: int,
    min_side: int = MIN_IMAGE_SIDE,
    fingerprint: bool = False,
) -> CaseProbes:
    """Load a case's photos once and build its probes; failures are reported, not raised.
    A photo with a side under ``min_side`` pixels is an input error for the case.

    ``fingerprint``: also return the case's fingerprint, hashed from the bytes read here
    for the probes (the file is read once, off the run's main thread: the same value as
    ``case.fingerprint()``, of the very bytes perturbed), and its file signature, taken
    before the photos are read (so a signature never stands for older bytes than its
    fingerprint)."""
    warnings: list[str] = []
    signature = case.file_signature() if fingerprint else None
    contents: list[bytes | OSError | None] = []
    for image in case.images:
        if isinstance(image, np.ndarray):
            contents.append(None)
            continue
        try:
            contents.append(image.read_bytes())
        except OSError as exc:
            contents.append(exc)
    hashed = case.fingerprint(contents) if fingerprint else None
    try:
        originals = [
            decode_image(data, str(image), min_side, warnings)
            if isinstance(data, bytes)
            else load_image(image, min_side, warnings)  # an array, or the read's error
            for image, data in zip(case.images, contents, strict=True)
        ]
    except CaseInputError as exc:
        return CaseProbes(case.case_id, (), str(exc), tuple(warnings), hashed, signature)
    built = build_probes(case, conditions, seed, originals)
    return CaseProbes(
        case.case_id,
        tuple(
            p if isinstance(p, Probe) else f"perturbation failed: {type(p).__name__}: {p}"
            for p in built
        ),
        warnings=tuple(warnings),
        fingerprint=hashed,
        signature=signature,
    )


def answer_batch(model: Model, probes: Sequence[Probe]) -> list[Answer]:
    """A model's answers to a batch; a batch that fails as a whole fails each probe."""
    try:
        answers = model.answer(probes)
        if len(answers) != len(probes):
            raise RuntimeError(f"returned {len(answers)} answers for {len(probes)} probes")
    except Exception as exc:
        return [Answer.failed(f"{type(exc).__name__}: {exc}")] * len(probes)
    return answers


class Executor(ABC):
    """Runs perturbation and model calls, returning futures."""

    name: str
    #: cases perturbed ahead of the models (bounds memory: each holds its probes' photos)
    window: int = 2

    @classmethod
    @abstractmethod
    def create(cls, address: str | None = None) -> Executor:
        """The executor for the command line's ``--executor NAME [--address A]``."""

    @abstractmethod
    def start(self, specs: Sequence[dict[str, Any]]) -> list[Model]:
        """Prepare the models of ``specs``; returns local instances (name, identity,
        batch size) for the driver."""

    @abstractmethod
    def perturb(
        self,
        case: Case,
        conditions: Sequence[Condition],
        seed: int,
        min_side: int = MIN_IMAGE_SIDE,
        fingerprint: bool = False,
    ) -> Future[Any]:
        """Future of ``perturb_case(case, conditions, seed, min_side, fingerprint)``."""

    @abstractmethod
    def answer(self, model: int, probes: Sequence[Probe]) -> Future[Any]:
        """Future of ``answer_batch`` for model number ``model``."""

    def batches_in_flight(self, model: int) -> int:
        return 1

    def stream(self, model: int) -> tuple[int, int] | None:
        """For a model that answers on its own event loop (an ``AsyncModel`` here): (probes
        per submission, submissions kept in flight), so the harness feeds it continuously;
        ``None``: the model answers batches of ``batch_size``."""
        return None

    @abstractmethod
    def close(self, wait: bool = True) -> None:
        """Release workers and models; ``wait=False`` (Ctrl-C) abandons the calls in
        flight instead of waiting for them."""


class _ModelsHere:
    """Models answering in this process: each in a worker thread of its own, or on its own
    event loop (an ``AsyncModel``), so a model answers while the next cases are perturbed."""

    def __init__(self) -> None:
        self.models: dict[int, Model] = {}
        self._pools: dict[int, ThreadPoolExecutor] = {}

    def add(self, index: int, model: Model) -> None:
        self.models[index] = model
        if not isinstance(model, AsyncModel):
            self._pools[index] = ThreadPoolExecutor(1, thread_name_prefix=f"model-{model.name}")

    def answer(self, index: int, probes: Sequence[Probe]) -> Future[Any]:
        instance = self.models[index]
        if isinstance(instance, AsyncModel):  # its own loop: no worker thread in between
            return instance.submit(probes)
        return self._pools[index].submit(answer_batch, instance, probes)

    def stream(self, index: int) -> tuple[int, int] | None:
        instance = self.models.get(index)
        if isinstance(instance, AsyncModel):
            return instance.submit_size, instance.in_flight
        return None

    def close(self, wait: bool = True) -> None:
        if not wait:  # model calls waiting on a timeout give up now
            for model in self.models.values():
                model.cancel()
        for pool in self._pools.values():
            pool.shutdown(wait=wait, cancel_futures=True)
        for model in self.models.values():
            model.close()


class LocalExecutor(Executor):
    """Threads on this machine: ``workers`` for perturbation (default: the CPU count) and
    one per model, so a model answers while the next cases are perturbed."""

    name = "local"

    @classmethod
    def create(cls, address: str | None = None) -> LocalExecutor:
        if address is not None:
            raise InvalidArgument("--address is for the Ray executor (--executor ray)")
        return cls()

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.window = 2 * self.workers + 2
        self._perturb = ThreadPoolExecutor(self.workers, thread_name_prefix="perturb")
        self._here = _ModelsHere()

    def start(self, specs: Sequence[dict[str, Any]]) -> list[Model]:
        # a spec's ``ray`` options only matter to the Ray executor
        models = [make_model({k: v for k, v in s.items() if k != "ray"}) for s in specs]
        for index, model in enumerate(models):
            self._here.add(index, model)
        return models

    def perturb(
        self,
        case: Case,
        conditions: Sequence[Condition],
        seed: int,
        min_side: int = MIN_IMAGE_SIDE,
        fingerprint: bool = False,
    ) -> Future[Any]:
        return self._perturb.submit(perturb_case, case, conditions, seed, min_side, fingerprint)

    def answer(self, model: int, probes: Sequence[Probe]) -> Future[Any]:
        return self._here.answer(model, probes)

    def stream(self, model: int) -> tuple[int, int] | None:
        return self._here.stream(model)

    def close(self, wait: bool = True) -> None:
        self._perturb.shutdown(wait=wait, cancel_futures=True)
        self._here.close(wait)


class RayExecutor(Executor):
    """A Ray cluster: ``address`` (``None`` starts a local one, ``"auto"`` joins the one
    ``ray start`` made on this machine). Perturbation runs as Ray tasks; each model runs in
    ``replicas`` actors (``num_gpus`` each), which load the weights once. Specs may set
    ``ray: {replicas: N, num_gpus: G, num_cpus: C}``; the rest of the spec goes to the
    adapter as usual. Actors reserve no CPU unless ``num_cpus`` says so (reserving them on a
    small cluster would starve the perturbation tasks); requests the cluster cannot meet
    are refused before anything starts, never left pending.

    A run's ``vocabulary`` file reaches the cluster's workers through the tasks' and actors'
    environment (``DERM_STRESS_VOCABULARY``): like the photos, it must be readable at the
    same path on every node, and an actor that loads a different vocabulary (another file
    at that path) refuses to start.

    A model whose adapter answers from a remote service (an ``AsyncModel``: the OpenAI and
    OpenAI-compatible adapters) runs on the driver instead, as under the local executor: it
    needs no worker's CPU or GPU, its API key stays in the driver's environment, and its
    batch journal is the run's results store, so an interrupted run in ``mode: batch`` polls
    the batches it submitted instead of paying for them again. Its ``ray`` options are
    ignored, with a warning."""

    name = "ray"

    @classmethod
    def create(cls, address: str | None = None) -> RayExecutor:
        return cls(address)

    def __init__(self, address: str | None = None, window: int | None = None) -> None:
        require("ray", "ray", "the Ray executor")  # else MissingDependency, with the command
        import ray

        self._ray = ray
        if not ray.is_initialized():
            ray.init(
                address=address,
                include_dashboard=False,
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
        cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
        self.window = window or 2 * cpus
        self._task = ray.remote(perturb_case)
        self._runtime_env: dict[str, Any] = {}
        self._actors: list[list[Any]] = []
        self._next: list[int] = []
        self._here = _ModelsHere()  # models answering from a remote service, on the driver

    def start(self, specs: Sequence[dict[str, Any]]) -> list[Model]:
        ray = self._ray
        actor_class = ray.remote(_ModelActor)
        # the run's vocabulary (``run`` exports its file for the run): workers load the same
        file = os.environ.get(VOCABULARY_VARIABLE)
        self._runtime_env = {"env_vars": {VOCABULARY_VARIABLE: file}} if file else {}
        self._task = ray.remote(perturb_case)
        if self._runtime_env:
            self._task = self._task.options(runtime_env=self._runtime_env)
        fingerprint = vocabulary().fingerprint
        plans = []
        here: dict[int, Model] = {}
        for index, spec in enumerate(specs):
            spec = dict(spec)
            options = dict(spec.pop("ray", {}) or {})
            settings = {k: v for k, v in spec.items() if k not in ("name", "adapter")}
            adapter = str(spec.get("adapter", "reference"))
            if adapter in ADAPTERS and issubclass(ADAPTERS.get(adapter), AsyncModel):
                here[index] = make_model(spec)
                if options:
                    warnings.warn(
                        f"model {here[index].name!r} answers from a remote service: the Ray "
                        f"executor runs it on the driver and ignores its ray options {options}",
                        stacklevel=2,
                    )
                continue
            if adapter in ADAPTERS:  # refuse a typo here, not as an actor's traceback
                check_settings(adapter, str(spec.get("name", adapter)), settings)
            unknown = set(options) - {"replicas", "num_gpus", "num_cpus"}
            if unknown:
                raise InvalidArgument(
                    f"model {spec.get('name')!r}: unknown ray option(s) {sorted(unknown)}; "
                    "allowed: replicas, num_gpus, num_cpus"
                )
            plans.append((index, spec, int(options.get("replicas", 1)), options))
        self._check_resources([(spec, n, options) for _, spec, n, options in plans])
        models: dict[int, Model] = dict(here)
        for index, model in here.items():
            self._here.add(index, model)
        self._actors = [[] for _ in specs]
        self._next = [0 for _ in specs]
        for index, spec, replicas, options in plans:
            actors = [
                actor_class.options(
                    num_gpus=options.get("num_gpus", 0),
                    num_cpus=options.get("num_cpus", 0),
                    **({"runtime_env": self._runtime_env} if self._runtime_env else {}),
                ).remote(spec, fingerprint)
                for _ in range(replicas)
            ]
            self._actors[index] = actors
            # identity as the worker sees it (an "auto" dtype depends on the worker's GPU)
            models[index] = _RemoteModel(*ray.get(actors[0].describe.remote()))
        return [models[index] for index in range(len(specs))]

    def _check_resources(self, plans: list[tuple[dict[str, Any], int, dict[str, Any]]]) -> None:
        """Actors that can never all be placed would hang the run: refuse them up front.
        Perturbation tasks need one CPU besides what the actors reserve."""
        total = self._ray.cluster_resources()  # type: ignore[no-untyped-call]
        for resource, key, spare in (("CPU", "num_cpus", 1), ("GPU", "num_gpus", 0)):
            wanted = sum(replicas * float(o.get(key, 0)) for _, replicas, o in plans)
            have = float(total.get(resource, 0))
            if wanted and wanted + spare > have:
                raise InvalidArgument(
                    f"the Ray cluster has {have:g} {resource}(s); the model actors reserve "
                    f"{wanted:g}" + (" and perturbation needs 1" if spare else "")
                )

    def perturb(
        self,
        case: Case,
        conditions: Sequence[Condition],
        seed: int,
        min_side: int = MIN_IMAGE_SIDE,
        fingerprint: bool = False,
    ) -> Future[Any]:
        future: Future[Any] = self._task.remote(  # type: ignore[call-arg]
            case, list(conditions), seed, min_side, fingerprint
        ).future()
        return future

    def answer(self, model: int, probes: Sequence[Probe]) -> Future[Any]:
        if model in self._here.models:
            return self._here.answer(model, probes)
        actors = self._actors[model]
        actor = actors[self._next[model] % len(actors)]
        self._next[model] += 1
        future: Future[Any] = actor.answer.remote(list(probes)).future()
        return future

    def batches_in_flight(self, model: int) -> int:
        return len(self._actors[model]) or 1

    def stream(self, model: int) -> tuple[int, int] | None:
        return self._here.stream(model)

    def close(self, wait: bool = True) -> None:
        self._here.close(wait)
        for actors in self._actors:
            for actor in actors:
                self._ray.kill(actor)
        self._actors = []


class _ModelActor:
    """A model living in a Ray worker: built once, answers batches."""

    def __init__(self, spec: dict[str, Any], vocabulary_fingerprint: str | None = None) -> None:
        here = vocabulary()  # the packaged one, or the run's file through the environment
        if vocabulary_fingerprint is not None and here.fingerprint != vocabulary_fingerprint:
            file = os.environ.get(VOCABULARY_VARIABLE) or "the packaged vocabulary"
            raise InvalidArgument(
                f"this Ray worker's vocabulary ({file}, fingerprint {here.fingerprint}) is not "
                f"the run's ({vocabulary_fingerprint}): the vocabulary file must be the same "
                "at the same path on every node"
            )
        self.model = make_model(spec)

    def describe(self) -> tuple[str, dict[str, Any], str, int]:
        m = self.model
        return m.name, m.identity(), m.prompt_version, m.batch_size

    def answer(self, probes: list[Probe]) -> list[Answer]:
        return answer_batch(self.model, probes)


class _RemoteModel(Model):
    """The driver's view of a model that lives in Ray actors (it never answers here)."""

    adapter = "remote"

    def __init__(
        self, name: str, identity: dict[str, Any], prompt_version: str, batch_size: int
    ) -> None:
        super().__init__(name)
        self._identity = identity
        self._prompt_version = prompt_version
        self.batch_size = batch_size

    def identity(self) -> dict[str, Any]:
        return self._identity

    @property
    def prompt_version(self) -> str:
        return self._prompt_version

    def answer(self, probes: Sequence[Probe]) -> list[Answer]:
        raise RuntimeError(f"model {self.name!r} answers in its Ray actors")


#: the executors, by the name ``--executor`` takes (built in only: no entry point group)
EXECUTORS: Registry[type[Executor]] = Registry("executor", Executor, name_of=lambda c: c.name)
EXECUTORS.register(LocalExecutor)
EXECUTORS.register(RayExecutor)


def make_executor(name: str, address: str | None = None) -> Executor:
    """The executor called ``name`` (an unknown one: did-you-mean and the list)."""
    return EXECUTORS.get(name).create(address)
