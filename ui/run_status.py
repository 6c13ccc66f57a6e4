"""Reading run folders for the pages: active runs, incremental events, one-line progress.

Events are read incrementally (from the last offset this session saw), so polling a long
run once a second costs only the new lines. The cache lives in the session, not in a
module global, so two tabs never share it.
"""

import contextlib
import re
import time
from datetime import datetime
from typing import Any

import streamlit as st

from tlcore.errors import TransferLabError
from tlcore.runs import queue, run_files, run_info

ACTIVE = ("queued", "running")
QUEUED = "Queued: starts when the current run ends"


def active_runs() -> list[Any]:
    """Runs that are queued or running, newest first.

    Also makes sure runs waiting in line have a worker (one that was killed, or a
    computer that restarted, leaves them waiting): the sidebar calls this every few
    seconds.
    """
    with contextlib.suppress(TransferLabError, OSError):
        queue.ensure_worker()
    return [r for r in list_runs() if r.status in ACTIVE]


def queue_line(run: Any) -> str | None:
    """For a run waiting in line: what it waits for, in words (None if it does not wait)."""
    if run.status != "queued":
        return None
    line = queue.waiting_run_ids()
    running = [r for r in list_runs() if r.status == "running" and r.run_id != run.run_id]
    if not running:
        return "Starting the training process…" if run.run_id in line else None
    ahead = line.index(run.run_id) if run.run_id in line else 0
    current = running[0].name or running[0].run_id
    after = f" and {ahead} more" if ahead else ""
    return f"{QUEUED} ('{current}'{after} first); one run trains at a time."


def waits(run: Any) -> bool:
    """True for a run queued behind another (not one whose training process is starting)."""
    return (queue_line(run) or "").startswith(QUEUED)


def new_run_waits(runs: list[Any] | None = None) -> bool:
    """True when a run started now would wait in the queue: every training slot is taken
    by a run that is training or about to start (``queue.max_runs``)."""
    runs = list_runs() if runs is None else runs
    return sum(r.status in ACTIVE for r in runs) >= queue.max_runs()


def start_label(runs: list[Any] | None = None) -> str:
    """The Start button's words: a run started while the slots are taken is queued."""
    return "Queue another run" if new_run_waits(runs) else "Start training"


def start_note(runs: list[Any] | None = None) -> None:
    """Under the Start button: a new run will wait if the slots are taken now."""
    if new_run_waits(runs):
        st.caption(
            "A run is training or starting now: a new one waits in the queue and starts "
            f"when it ends (at most {queue.max_runs()} at a time on this computer)."
        )


def shown_run_id(runs: list[Any], chosen: str | None) -> str | None:
    """The run the Train page shows: the one chosen, else one still going, else the newest
    (``runs`` newest first). The sidebar asks too, so it does not repeat that run's
    progress beside the page's own, a few seconds apart."""
    if chosen in {r.run_id for r in runs}:
        return chosen
    going = [r for r in runs if r.status in ACTIVE]
    return (going or runs)[0].run_id if runs else None


def list_runs(group: str | None = None) -> list[Any]:
    """All runs (optionally of one comparison group), newest first."""
    return run_info.list_runs(group=group)


def events(run_id: str) -> list[dict[str, Any]]:
    """All events of a run so far, reading only lines added since the last call."""
    cache = st.session_state.setdefault("_events", {})
    offset, seen = cache.get(run_id, (0, []))
    new, offset = run_files.read_events(run_id, start=offset)
    if new:
        seen = seen + list(new)
    cache[run_id] = (offset, seen)
    return seen


def last_of(evts: list[dict[str, Any]], *types: str) -> dict[str, Any] | None:
    """The most recent event of one of ``types``."""
    for e in reversed(evts):
        if e.get("type") in types:
            return e
    return None


def short_progress(run: Any) -> str:
    """A few words on where a run is, e.g. 'epoch 3 of 10, about 2 min left'."""
    if run.status == "queued":
        return "queued: starts when the current run ends" if waits(run) else "starting"
    evts = events(run.run_id)
    e = last_of(evts, "batch", "epoch", "prepare", "crossval")
    if e is None:
        return "starting (loading TensorFlow)"
    left = time_left(run, evts)
    tail = f", {left}" if left else ""
    if e["type"] == "crossval":
        return f"measuring the accuracy (fold {e.get('fold')} of {e.get('folds')}){tail}"
    if e["type"] == "prepare":
        what = {
            "decode": "reading images",
            "features": "computing features",
            "weights": "downloading the pretrained weights",
            "convert": "preparing the pretrained network",
            "solve-head": "solving the head",
        }.get(e.get("stage"), "preparing")
        return f"{what} {e.get('done', 0)}/{e.get('total', '?')}{tail}"
    if is_solved_head(e):
        return f"the head is solved; measuring the accuracy{tail}"
    return f"epoch {e.get('epoch')} of {planned_epochs(run, evts)}{tail}"


def is_solved_head(event: dict[str, Any]) -> bool:
    """True for the epoch event of a solved head (solved at once, no learning rate)."""
    return (
        event.get("type") == "epoch"
        and event.get("phase") == "head"
        and event.get("learning_rate") is None
    )


def time_left(run: Any, evts: list[dict[str, Any]]) -> str:
    """The run's time left in words: the one estimate every page shows (may be empty)."""
    from tlcore.training import eta

    try:
        return eta.for_run(evts, run.config, time.time()).phrase
    except TransferLabError:  # a config this version cannot plan: no estimate, no error
        return ""


def planned_epochs(run: Any, evts: list[dict[str, Any]]) -> int:
    """The epoch a run's last phase ends at (a solved head alone is one; a time budget
    may have cut the epochs, which its ``budget`` event says)."""
    from tlcore.training import eta

    cut = next((e.get("epochs") for e in evts if e.get("type") == "budget"), None)
    try:
        return eta.planned_phases(run.config, cut)[-1].last_epoch
    except (TransferLabError, IndexError):
        return run.config.epochs


def duration(seconds: float | None) -> str:
    """Seconds as a friendly '45 s' / '3 min' / '1 h 5 min'."""
    from tlcore.training import eta

    return eta.duration(seconds)


def when(run: Any) -> str:
    """When a run was created, in this computer's time, e.g. '1 Dec 16:41'."""
    try:
        created = datetime.fromisoformat(run.created).astimezone()
    except (TypeError, ValueError):
        return ""
    return f"{created.day} {created:%b %H:%M}"


def what(cfg: Any) -> str:
    """The network and strategy of a config in words, e.g. 'MobileNetV2, feature extraction'."""
    from tlcore.models.backbones import BACKBONES
    from tlcore.models.freezing import STRATEGIES

    spec = BACKBONES.get(cfg.backbone)
    strategy = STRATEGIES.get(cfg.freeze.strategy)
    net = spec.display_name if spec else cfg.backbone
    how = strategy.display_name.lower() if strategy else cfg.freeze.strategy
    return net if how in net.lower() else f"{net}, {how}"


def title(run: Any) -> str:
    """A run's name for people: the one it was given, else its network and strategy.

    Runs of a comparison are named after their strategy, which says too little outside
    the comparison, so they get the network and strategy too.
    """
    from tlcore.models.freezing import STRATEGIES

    strategy = STRATEGIES.get(run.config.freeze.strategy)
    generic = {run.config.freeze.strategy, strategy.display_name if strategy else ""}
    return run.name if run.name and run.name not in generic else what(run.config)


def outcome(run: Any) -> str:
    """The status in words, with the accuracy named (never a bare percentage)."""
    if run.status == "queued":
        return "queued" if waits(run) else "starting"
    if run.status == "running":
        return "training now"
    if run.test_accuracy is not None:
        how = "cross-validated" if run.evaluation == "cross-validation" else "test"
        score = f", {run.test_accuracy:.0%} {how} accuracy"
    elif run.best_val_accuracy is not None:
        score = f", {run.best_val_accuracy:.0%} validation accuracy"
    else:
        score = ""
    return f"{run.status}{score}" if run.status in ("finished", "stopped") else run.status


def label(run: Any) -> str:
    """How a run is named in lists, e.g.
    'first try · Small CNN (from scratch) · 1 Dec 16:41 — finished, 92% test accuracy'."""
    if run.status == "damaged":
        return f"{run.name or run.run_id} — damaged ({run.damaged_file or 'unreadable'})"
    name = title(run)
    parts = [name] if name == what(run.config) else [name, what(run.config)]
    return " · ".join(p for p in [*parts, when(run)] if p) + " — " + outcome(run)


def group_label(group: str, runs: list[Any]) -> str:
    """A comparison for people, e.g. 'Small CNN (from scratch) · 3 strategies · 1 Dec 16:36'."""
    members = [r for r in runs if r.group == group]
    if not members:
        return "comparison"
    first = min(members, key=lambda r: r.created or "")
    from tlcore.models.backbones import BACKBONES

    spec = BACKBONES.get(first.config.backbone)
    net = spec.display_name if spec else first.config.backbone
    n = len(members)
    return " · ".join(p for p in (net, f"{n} strateg{'ies' if n != 1 else 'y'}", when(first)) if p)


def file_stem(run: Any) -> str:
    """A download name for a run's files, e.g. 'first-try' or 'small-cnn-1-dec-16-41'."""
    text = run.name or f"{title(run)} {when(run)}"
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "model"
