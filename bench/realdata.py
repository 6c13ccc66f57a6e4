"""Small datasets of real images, as class folders on disk, for tests and benchmarks.

- ``twemoji_dataset``: Twitter's emoji artwork (Twemoji, CC-BY 4.0) from the npm package
  ``emoji-datasource-twitter``, one class per Unicode emoji category.
- ``skimage_photos``: the RGB photos that scikit-image ships (a cat, a cup, a rocket ...).
- ``fewshot_split``: ``train/`` with N images a class and ``test/`` with the rest.

The npm package is installed on first use into a cache outside the repo
(``$TRANSFERLAB_DATA_CACHE/npm``, default ``~/.cache/transferlab/npm``) from the pinned
``bench/npm/package-lock.json``. Without npm or the registry, ``RealDataUnavailable``.

    python bench/realdata.py counts
    python bench/realdata.py twemoji DEST [--per-class 40] [--size 64] [--seed 0]
"""

import argparse
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

NPM_PACKAGE = "emoji-datasource-twitter"
NPM_VERSION = "16.0.0"  # also pinned, with its sha512, in bench/npm/package-lock.json
NPM_SPEC = Path(__file__).resolve().parent / "npm"
NATIVE_SIZE = 64  # the package's img/twitter/64/ PNGs
MARKER = ".transferlab-realdata.json"  # tlcore's scan ignores names starting .transferlab-
ATTRIBUTION = (
    "Emoji artwork: Twemoji, Copyright 2019 Twitter, Inc and other contributors, "
    "https://github.com/jdecked/twemoji, licensed under CC-BY 4.0 "
    "(https://creativecommons.org/licenses/by/4.0/); resized and flattened onto white. "
    f"Taken from the npm package {NPM_PACKAGE}@{NPM_VERSION} (its code and data: MIT, "
    "Cal Henderson).\n"
)

# Unicode's emoji categories, by folder name. "Component" (the five skin-tone swatches)
# is not one. Each has 80+ distinct images, so no need to fall back to subcategories.
CATEGORIES = {
    "smileys_emotion": "Smileys & Emotion",
    "people_body": "People & Body",
    "animals_nature": "Animals & Nature",
    "food_drink": "Food & Drink",
    "travel_places": "Travel & Places",
    "activities": "Activities",
    "objects": "Objects",
    "symbols": "Symbols",
    "flags": "Flags",
}
# The default six: each has a look of its own (round yellow faces, creatures and plants,
# food, landscapes / buildings / vehicles, things, rectangles with stripes). Left out:
# people_body (faces of the same yellow as smileys_emotion, hands), symbols (mostly
# glyphs on one purple or blue square: too easy) and activities (85, partly objects).
DEFAULT_CLASSES = (
    "animals_nature",
    "food_drink",
    "flags",
    "smileys_emotion",
    "travel_places",
    "objects",
)

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
_ZWJ = "200D"  # joins other emoji: gendered / family / colour variants of a base emoji
_SKIN_TONES = {"1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF"}
# The 24 clock faces (clock1 ... clock1230) differ by their hands only: one in a few-shot
# train set would make the other 23 easy test images. The first one stands for them all.
_FAMILIES = (re.compile(r"clock\d+"),)


class RealDataUnavailable(RuntimeError):
    """The images cannot be had on this machine (no npm, or no registry)."""


def cache_dir() -> Path:
    """Folder of downloaded data: ``$TRANSFERLAB_DATA_CACHE`` or ``~/.cache/transferlab``."""
    env = os.environ.get("TRANSFERLAB_DATA_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "transferlab"


def _installed(npm_dir: Path) -> Path | None:
    pkg = npm_dir / "node_modules" / NPM_PACKAGE
    try:
        version = json.loads((pkg / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None
    ok = version == NPM_VERSION and (pkg / "img/twitter/64").is_dir()
    return pkg if ok and (pkg / "emoji.json").is_file() else None


def ensure_twemoji(npm_dir: Path | None = None) -> Path:
    """Install the pinned npm package if needed; return its folder.

    Args:
        npm_dir: npm prefix to install into; default ``cache_dir() / "npm"``.

    Raises:
        RealDataUnavailable: npm is missing, or the install failed (offline?).
    """
    npm_dir = Path(npm_dir) if npm_dir is not None else cache_dir() / "npm"
    if pkg := _installed(npm_dir):
        return pkg
    npm = shutil.which("npm")
    if npm is None:
        raise RealDataUnavailable(
            f"npm is not installed, so {NPM_PACKAGE} cannot be fetched: "
            "apt-get install npm (or install Node.js), then run again."
        )
    npm_dir.mkdir(parents=True, exist_ok=True)
    with open(npm_dir / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes must not install at once
        if pkg := _installed(npm_dir):
            return pkg
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(NPM_SPEC / name, npm_dir / name)
        cmd = [npm, "ci", "--no-audit", "--no-fund", "--fetch-retries=1"]
        cmd += ["--fetch-timeout=60000", "--prefix", str(npm_dir)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired as exc:
            raise RealDataUnavailable(f"'{' '.join(cmd)}' took over 10 minutes") from exc
        if done.returncode != 0 or not (pkg := _installed(npm_dir)):
            lines = (done.stderr or done.stdout).splitlines()
            tail = "\n".join([line for line in lines if " at " not in line][:6])
            raise RealDataUnavailable(
                f"Could not install {NPM_PACKAGE}@{NPM_VERSION} with '{' '.join(cmd)}' "
                f"(exit {done.returncode}; offline?):\n{tail}"
            )
        return pkg


def _file_name(short_name: str) -> str:
    name = short_name.lower().replace("+", "plus_")
    name = re.sub(r"^-", "minus_", name)
    return re.sub(r"[^a-z0-9_-]+", "_", name)


@functools.cache
def _catalogue(pkg: Path) -> dict[str, tuple[tuple[str, Path], ...]]:
    """(file name, source PNG) of each usable emoji, by category folder name."""
    emojis = json.loads((pkg / "emoji.json").read_text(encoding="utf-8"))
    by_slug = {name: slug for slug, name in CATEGORIES.items()}
    seen: set[str] = set()  # digests of the pictures kept, and families already present
    out: dict[str, list[tuple[str, Path]]] = {slug: [] for slug in CATEGORIES}
    for e in sorted(emojis, key=lambda e: e["sort_order"]):
        # Skin tones live under e["skin_variations"], which is never read.
        codes = set(e["unified"].upper().split("-"))
        src = pkg / "img/twitter/64" / e["image"]
        if e["category"] not in by_slug or _ZWJ in codes or codes & _SKIN_TONES:
            continue
        if not e.get("has_img_twitter") or not src.is_file():
            continue
        family = next((f.pattern for f in _FAMILIES if f.fullmatch(e["short_name"])), None)
        digest = family or hashlib.sha1(src.read_bytes()).hexdigest()
        if digest in seen:  # e.g. the flags of Norway and of Svalbard are one picture
            continue
        seen.add(digest)
        out[by_slug[e["category"]]].append((_file_name(e["short_name"]), src))
    return {slug: tuple(items) for slug, items in out.items()}


def count_per_class(npm_dir: Path | None = None) -> dict[str, int]:
    """Usable images in each category (all of ``CATEGORIES``), installing if needed."""
    return {slug: len(items) for slug, items in _catalogue(ensure_twemoji(npm_dir)).items()}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z]+", "_", name.lower()).strip("_")


def _render(src: Path, size: int) -> Image.Image:
    rgba = Image.open(src).convert("RGBA")
    im = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    return im if im.size == (size, size) else im.resize((size, size), Image.Resampling.LANCZOS)


def _prepare(dest: Path, params: dict) -> bool:
    """True if ``dest`` already holds these params; clear our own older build."""
    marker = dest / MARKER
    if marker.is_file():
        try:
            if json.loads(marker.read_text(encoding="utf-8")) == params:
                return True
        except (OSError, ValueError):
            pass
        shutil.rmtree(dest)
    elif dest.exists() and any(dest.iterdir()):
        raise ValueError(f"'{dest}' is not empty and was not made by bench/realdata.py.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    return False


def _publish(tmp: Path, dest: Path) -> None:
    if dest.exists():
        dest.rmdir()
    os.replace(tmp, dest)


def twemoji_dataset(
    dest: Path,
    per_class: int | None = 40,
    classes: list[str] | None = None,
    size: int = 64,
    seed: int = 0,
    npm_dir: Path | None = None,
) -> Path:
    """Write ``dest/<class>/<emoji>.png``: Twemoji artwork, one class per emoji category.

    Alpha is flattened onto white; RGB PNGs, ``size`` x ``size`` (native 64: other sizes
    are resampled). Skin-tone variants, ZWJ composites (gendered, family, "black cat"),
    byte-identical pictures and all clock faces but one are left out. Images of a class
    are a seeded draw that does not depend on the other classes asked, and a smaller
    ``per_class`` takes a prefix of a larger one. A finished folder is returned as is.

    Args:
        dest: Output folder (empty, missing, or made by this function).
        per_class: Images per class; ``None`` for all (classes then differ in size).
        classes: Folder names from ``CATEGORIES`` (or category names such as
            ``"Food & Drink"``); default ``DEFAULT_CLASSES``.
        size: Image side in pixels.
        seed: Which images are drawn.
        npm_dir: Where the npm package is (or goes); see ``ensure_twemoji``.

    Raises:
        ValueError: Unknown class, too few images, or ``dest`` holds something else.
        RealDataUnavailable: The npm package cannot be installed.
    """
    slugs = [_slug(c) for c in (classes or DEFAULT_CLASSES)]
    if unknown := [c for c in classes or () if _slug(c) not in CATEGORIES]:
        raise ValueError(f"Unknown emoji classes {unknown}; known: {', '.join(CATEGORIES)}.")
    if per_class is not None and per_class < 1:
        raise ValueError(f"per_class must be at least 1, not {per_class}.")
    dest = Path(dest)
    params = {"source": f"{NPM_PACKAGE}@{NPM_VERSION}", "classes": slugs}
    params |= {"per_class": per_class, "size": size, "seed": seed, "version": 1}
    if _prepare(dest, params):
        return dest
    catalogue = _catalogue(ensure_twemoji(npm_dir))
    if short := {s: len(catalogue[s]) for s in slugs if len(catalogue[s]) < (per_class or 0)}:
        raise ValueError(f"per_class={per_class} but only {short} images exist.")
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
    try:
        for slug in slugs:
            items = catalogue[slug]
            rng = np.random.default_rng([seed, zlib.crc32(slug.encode())])
            (tmp / slug).mkdir()
            for i in rng.permutation(len(items))[:per_class]:
                name, src = items[i]
                _render(src, size).save(tmp / slug / f"{name}.png")
        (tmp / ".transferlab-LICENSE.txt").write_text(ATTRIBUTION, encoding="utf-8")
        (tmp / MARKER).write_text(json.dumps(params), encoding="utf-8")
        _publish(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def skimage_photos(dest: Path) -> dict[str, Path]:
    """Write scikit-image's RGB photos as ``dest/<name>.jpg``; return name -> path.

    ``chelsea`` is a tabby cat, ``coffee`` a cup, ``rocket`` a launch, ``motorcycle``
    (where this scikit-image has it) a motorbike in a workshop. All ship in the wheel.

    Raises:
        ImportError: scikit-image is not installed (``pip install scikit-image``).
    """
    from skimage import data

    loaders = {name: getattr(data, name) for name in PHOTOS if hasattr(data, name)}
    if hasattr(data, "stereo_motorcycle"):
        loaders["motorcycle"] = lambda: data.stereo_motorcycle()[0]
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for name, load in loaders.items():
        try:
            pixels = np.asarray(load())
        except Exception:  # a photo this scikit-image would download: skip it
            continue
        if pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype == np.uint8:
            Image.fromarray(pixels).save(dest / f"{name}.jpg", quality=95)
            out[name] = dest / f"{name}.jpg"
    return out


def lfw_faces(dest: Path, per_class: int = 100, seed: int = 0) -> Path:
    """Write scikit-image's LFW subset as ``dest/face/`` and ``dest/not_face/``: real
    photographs (25x25 grey crops of Labeled Faces in the Wild, and of other photos), the
    only labelled photos in classes that a package here ships. Returns ``dest``.

    Raises:
        ImportError: scikit-image is not installed (``pip install scikit-image``).
    """
    from skimage import data

    pixels = np.asarray(data.lfw_subset())  # 100 faces, then 100 non-faces, in [0, 1]
    rng = np.random.default_rng(seed)
    dest = Path(dest)
    for name, part in (("face", pixels[:100]), ("not_face", pixels[100:])):
        (dest / name).mkdir(parents=True, exist_ok=True)
        for i in sorted(rng.choice(len(part), min(per_class, len(part)), replace=False)):
            image = Image.fromarray((part[i] * 255).round().astype(np.uint8)).convert("RGB")
            image.save(dest / name / f"{name}_{i:03d}.png")
    return dest


def _images(folder: Path) -> list[Path]:
    files = (p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return sorted(p for p in files if p.suffix.lower() in IMAGE_SUFFIXES)


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(src, dst)


def fewshot_split(
    root: Path, shots: int, seed: int = 0, dest: Path | None = None
) -> tuple[Path, Path]:
    """Split class folders into ``train/`` (``shots`` a class) and ``test/`` (the rest).

    Files are hard links (copies across file systems). For one seed, the images of a
    5-shot train set are among those of the 10-shot one. Rebuilt on every call.

    Args:
        root: Folder with one subfolder of images per class.
        shots: Training images per class.
        seed: Which images train.
        dest: Output folder; default ``<root>-<shots>shot-seed<seed>`` beside ``root``.

    Returns:
        ``(dest / "train", dest / "test")``.

    Raises:
        ValueError: No class folders, or a class with ``shots`` images or fewer.
    """
    root = Path(root)
    dest = Path(dest) if dest is not None else root.parent / f"{root.name}-{shots}shot-seed{seed}"
    classes = {d.name: _images(d) for d in sorted(root.iterdir()) if d.is_dir()}
    classes = {c: files for c, files in classes.items() if not c.startswith(".")}
    if not classes:
        raise ValueError(f"No class folders in '{root}'.")
    if shots < 1:
        raise ValueError(f"shots must be at least 1, not {shots}.")
    if small := {c: len(f) for c, f in classes.items() if len(f) <= shots}:
        raise ValueError(
            f"{shots}-shot needs {shots + 1}+ images a class (one left to test); "
            f"in '{root}' too few: {small}."
        )
    _prepare(dest, {})  # no params match: clears our own earlier split, refuses others
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
    try:
        for name, files in classes.items():
            rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
            order = rng.permutation(len(files))
            for part, picks in (("train", order[:shots]), ("test", order[shots:])):
                (tmp / part / name).mkdir(parents=True)
                for i in picks:
                    _link(files[i], tmp / part / name / files[i].name)
        params = {"root": str(root.resolve()), "shots": shots, "seed": seed}
        (tmp / MARKER).write_text(json.dumps(params), encoding="utf-8")
        _publish(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest / "train", dest / "test"


def main(argv: list[str] | None = None) -> int:
    """Command line: ``counts`` or ``twemoji DEST``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("counts", help="usable images per emoji category")
    build = sub.add_parser("twemoji", help="write an emoji dataset")
    build.add_argument("dest", type=Path)
    build.add_argument("--per-class", type=int, default=40)
    build.add_argument("--classes", nargs="*", default=None)
    build.add_argument("--size", type=int, default=64)
    build.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if args.command == "counts":
            print(json.dumps(count_per_class(), indent=2))
        else:
            kw = {"per_class": args.per_class, "classes": args.classes}
            print(twemoji_dataset(args.dest, size=args.size, seed=args.seed, **kw))
    except (RealDataUnavailable, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
