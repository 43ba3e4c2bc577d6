"""A registered version's binaries live in the DVC cache; git keeps a `.dvc` pointer for each.

In a DVC project the model (`model.txt`), the reference profile arrays and sample and any other
non-document file of a version are stored in the project's DVC cache, and the version folder
gets, per file, the `<name>.dvc` pointer DVC itself writes for `dvc add` (md5, size, path) plus a
`.gitignore` line. Git then holds the manifest, metrics, card and pointers (a few kB a version);
`dvc push` / `dvc pull` move the bytes, and `dvc checkout` restores them in a fresh clone.

`dvc add` cannot be used here: promote runs inside `dvc repro`, which holds the repository lock.
The objects go into the cache through DVC's own object database API (the same call `dvc add`
makes), which needs no lock: the cache is content-addressed and written atomically.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import yaml

from driftline.errors import DriftlineError

DOCUMENT_SUFFIXES = (".json", ".md")  # reviewable text: stays in git
POINTER_SUFFIX = ".dvc"
_CHUNK = 1 << 20


class CacheError(DriftlineError):
    """A version's binaries could not be stored in the DVC cache."""


def is_dvc_project(root: Path) -> bool:
    return (Path(root) / ".dvc").is_dir()


def cached_names(names: Iterable[str]) -> list[str]:
    """The files of a version that go to the DVC cache (everything but JSON and Markdown documents)."""
    return sorted(n for n in names if not n.endswith(DOCUMENT_SUFFIXES))


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pointer_text(md5: str, size: int, name: str) -> str:
    """A `.dvc` file exactly as `dvc add` writes it for one file (DVC 3, `hash: md5`)."""
    return yaml.safe_dump({"outs": [{"md5": md5, "size": size, "hash": "md5", "path": name}]}, sort_keys=False)


def pointer_md5(path: Path) -> str | None:
    """The md5 a file's `.dvc` pointer records (the file beside it), or None without a readable pointer."""
    try:
        return str(yaml.safe_load(path.with_name(path.name + POINTER_SUFFIX).read_text(encoding="utf-8"))["outs"][0]["md5"])
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return None


def store(root: Path, folder: Path, names: Iterable[str]) -> dict[str, str]:
    """Put `names` (files in `folder`) into the DVC cache of the project at `root`.

    Returns the documents to write beside them: `<name>.dvc` per file and a `.gitignore` listing
    the files. The files themselves stay in `folder` (the registry reads them there).
    """
    from dvc.repo import Repo
    from dvc_objects.fs.local import LocalFileSystem

    names = cached_names(names)
    if not names:
        return {}
    try:
        repo = Repo(str(root), uninitialized=False)
        try:
            odb, fs = repo.cache.local, LocalFileSystem()
            documents = {}
            for name in names:
                path = folder / name
                md5 = _md5(path)
                odb.add(str(path), fs, md5)
                documents[name + POINTER_SUFFIX] = pointer_text(md5, path.stat().st_size, name)
        finally:
            repo.close()
    except DriftlineError:
        raise
    except Exception as exc:  # DVC's own errors (config, cache permissions) have no common base we can name
        raise CacheError(f"could not store {', '.join(names)} in the DVC cache of {root}: {exc}",
                         hint="check `dvc cache dir` is writable (`dvc doctor`), or run outside a DVC project") from exc
    documents[".gitignore"] = "".join(f"/{name}\n" for name in names)
    return documents


def missing_hint(path: Path) -> str | None:
    """When a version's file is absent but its `.dvc` pointer is there: what to run to get it."""
    if not path.exists() and path.with_name(path.name + POINTER_SUFFIX).is_file():
        return f"{path.name} is in the DVC cache, not in this workspace: run `dvc pull` (or `dvc checkout`)"
    return None
