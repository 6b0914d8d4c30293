"""Where units of work run: one after another in this process, or as Ray tasks on a cluster.

A unit (one source prompt, one pre-training format) is trained by a worker that gets the unit and returns plain
values: tensors and records. The process that started the run, the driver, hands each result to `on_result` as it
arrives and alone writes the bank and the outcome files, so a bank's SQLite catalog is only ever written from one
machine (SQLite is not for network filesystems), and a killed run loses only the units in flight.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from promptbank.errors import BadArgumentError, PromptbankError

Unit, Result = TypeVar("Unit"), TypeVar("Result")
EXECUTORS = ("local", "ray")
INSTALL_RAY = "pip install 'promptbank[ray]' (pip install -e '.[ray]' in a checkout)"


@dataclass(frozen=True)
class Executor:
    """How units run: "local" (in order, in this process) or "ray" (as Ray tasks at `address`, else on a Ray
    started here for the run), each Ray task holding `cpus` CPUs and `gpus` GPUs (None: 1 where the cluster has
    GPUs, else 0)."""

    kind: str = "local"
    address: str | None = None
    cpus: float = 1
    gpus: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise BadArgumentError(f"--executor must be {' or '.join(EXECUTORS)}, not {self.kind!r}.")
        if self.kind == "local" and self.address is not None:
            raise BadArgumentError("--address names a Ray cluster; it goes with --executor ray.")
        if self.cpus <= 0 or (self.gpus is not None and self.gpus < 0):
            raise BadArgumentError("--cpus-per-unit must be positive and --gpus-per-unit at least 0.")
        if self.kind == "ray":
            try:
                import ray  # noqa: F401
            except ImportError:
                raise BadArgumentError(f"--executor ray needs Ray, which is not installed: {INSTALL_RAY}.") from None


def run_units(work: Callable[[Unit], Result], units: list[Unit], on_result: Callable[[Unit, Result], None],
              executor: Executor = Executor(), progress: bool = False) -> None:
    """Run `work` on every unit and call `on_result(unit, result)` here, on the driver, for each.

    Locally the units run in order in this process. On Ray they are all submitted at once as tasks and
    `on_result` sees them in the order they finish; a Ray already started in this process is used as it is,
    else one is started (or joined, with an address) for the run and stopped after it. On Ray a unit runs on
    the GPU Ray gives it, or on CPU when it asks for none; `work` must be a module-level function (workers
    import it) and its results are the only thing that comes back. `progress` counts finished Ray units.
    """
    if executor.kind == "local":
        for unit in units:
            on_result(unit, work(unit))
    elif units:
        _run_on_ray(work, units, on_result, executor, progress)


CONNECT_TIMEOUT_S = 10.0


def check_reachable(address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse, in one sentence and within `timeout`, a Ray address nobody answers at: Ray itself retries for minutes.
    A host:port address (the cluster's GCS, or ray://host:port for Ray Client) is probed with a TCP connection;
    "auto" and no address are Ray's to resolve."""
    if not address or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise BadArgumentError(f"--address {address!r} is not HOST:PORT (or ray://HOST:PORT, or auto).")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise BadArgumentError(f"The Ray cluster at {address} cannot be reached ({error.strerror or error}); check "
                               "the address and that the cluster is running.") from None


def _run_on_ray(work: Callable[[Unit], Result], units: list[Unit], on_result: Callable[[Unit, Result], None],
                executor: Executor, progress: bool) -> None:
    import ray
    from ray.exceptions import RayTaskError
    from tqdm.auto import tqdm

    started = not ray.is_initialized()
    if started:
        ray.init(address=executor.address, include_dashboard=False, logging_level="WARNING")
    pending: dict = {}
    try:
        gpus = executor.gpus if executor.gpus is not None else int(ray.cluster_resources().get("GPU", 0) > 0)
        task = ray.remote(_on_device).options(num_cpus=executor.cpus, num_gpus=gpus)
        shared = ray.put(work)  # sent to the cluster once, not once per unit
        scoring_path = os.environ.get("PROMPTBANK_SCORING_PATH")  # this command's, for every worker
        pending = {task.remote(shared, unit, "cuda" if gpus else "cpu", scoring_path): unit for unit in units}
        with tqdm(total=len(units), desc="units", disable=not progress) as bar:
            while pending:
                (done,), _ = ray.wait(list(pending), num_returns=1)
                unit = pending.pop(done)
                try:
                    result = ray.get(done)
                except RayTaskError as error:  # a user's mistake found on a worker is still one sentence
                    if isinstance(error.cause, PromptbankError):
                        raise error.cause from None
                    raise
                on_result(unit, result)
                bar.update()
    finally:
        for ref in pending:  # stopped early (an error, ^C): what is still running is given up
            ray.cancel(ref)
        if started:
            ray.shutdown()


def _on_device(work: Callable[[Unit], Result], unit: Unit, device: str, scoring_path: str | None = None) -> Result:
    """A Ray task: `work` on `unit` with every backbone on `device` (Ray limits a GPU task to the GPUs it holds),
    scored by `scoring_path` where the command named one."""
    os.environ["PROMPTBANK_DEVICE"] = device
    if scoring_path is not None:
        os.environ["PROMPTBANK_SCORING_PATH"] = scoring_path
    return work(unit)
