"""One process's failure stops every process of a multi-process run, with its error named.

Under ``torchrun`` or ``accelerate launch`` a collective call (an all-reduce) returns only when
every process has made it. A process that raised alone would leave the others waiting in their
next collective call until the backend's timeout (30 minutes), or for ever if it lives on (a
notebook kernel, a process stuck in teardown). The loop (:mod:`.loop`) keeps three rules:

* every collective call is preceded by a *status check* (:meth:`Ranks.check`): an all-reduce
  of one code per process (fine, failed, or a problem to vote on), and, only when a code is
  not "fine", of every process's message. This includes the collective calls DDP makes in a
  forward call (it broadcasts the model's buffers, and rebuilds its gradient buckets with a
  broadcast in the first forward call after the first update): a forward pre-hook on the
  DDP model makes the check;
* a process that raises anywhere between two collective calls (bad data, out of memory, a full
  disk on the main process) joins the others at their next status check with its message
  (:meth:`Ranks.fail`, called by :func:`~.loop.train` for any exception). Every process then
  raises: the failed one its own error, the others :class:`ProcessFailed` naming it. The
  process group stays usable;
* the collective calls that no check can precede are DDP's gradient all-reduces in a
  backward pass (they run bucket by bucket from autograd hooks). The loop keeps them out of
  the loss's backward passes: it makes them in the backward of a tiny probe, weighted by
  zero, once per update (:func:`~.loop.sync_gradients`). A process that fails in there
  (:meth:`Ranks.unguarded`) makes no further collective call, and the others stop when it
  exits (torchrun then stops them all). Shutting the process group down would not stop them
  sooner: with gloo, neither ``abort()`` nor ``destroy_process_group()`` closes a group that
  DDP still holds (measured: the others waited until the process exited).

With one process nothing is exchanged and errors propagate as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

_FINE, _FAILED, _VOTE = 0, 1, 2
_MESSAGE_BYTES = 2000  # per process, UTF-8; longer messages are cut


class ProcessFailed(RuntimeError):
    """Another process of the run failed; ``failures`` maps its rank to its error's text."""

    def __init__(self, message: str, failures: dict[int, str] | None = None) -> None:
        super().__init__(message)
        self.failures = failures or {}

    @property
    def kinds(self) -> set[str]:
        """The class names of the failed processes' errors."""
        return {text.split(":", 1)[0] for text in self.failures.values()}


def describe(err: BaseException) -> str:
    """``Class: message``, and the notes added to ``err`` on its way up."""
    return " ".join([f"{type(err).__name__}: {err}", *getattr(err, "__notes__", [])])


def add_note(err: BaseException, note: str) -> None:
    """Add ``note`` to ``err`` (shown under its traceback; Python >= 3.11, else nothing)."""
    if hasattr(err, "add_note"):
        err.add_note(note)


class Ranks:
    """The processes of one run (``acc``: its :class:`accelerate.Accelerator`), and whether a
    failure has been agreed on, after which no process makes another collective call."""

    def __init__(self, acc) -> None:
        self.acc = acc
        self.world = acc.num_processes
        self.settled = False

    def check(self) -> None:
        """Return when every process is fine; raise :class:`ProcessFailed` if one failed."""
        self._exchange(_FINE, "")

    def vote(self, problem: str | None) -> dict[int, str]:
        """A status check that collects a problem that is not an error (a checkpoint that
        cannot be loaded): ``{rank: problem}`` of every process that has one."""
        return self._exchange(_FINE if problem is None else _VOTE, problem or "")

    def fail(self, err: BaseException) -> None:
        """Join the others' next status check with ``err`` (unless a failure was agreed on
        already or the group is shut down); never raises: the caller re-raises ``err``."""
        if self.world > 1 and not self.settled:
            with contextlib.suppress(Exception):
                self._exchange(_FAILED, describe(err))
            self.settled = True

    @contextlib.contextmanager
    def unguarded(self) -> Iterator[None]:
        """Run a block whose collective calls no check can precede (DDP's gradient sync): after
        an exception in it, this process makes no collective call (joining a status check
        while the others wait in another call would mix the two)."""
        try:
            yield
        except BaseException as err:
            if self.world > 1 and not self.settled:
                self.settled = True
                add_note(
                    err,
                    "wordot: raised while the processes synchronised gradients; the other "
                    "processes stop when this one exits",
                )
            raise

    def _exchange(self, code: int, message: str) -> dict[int, str]:
        """The status all-reduce; ``{rank: message}`` of the processes that voted (or, for a
        failed caller, failed)."""
        if self.world == 1:
            return {0: message} if code == _VOTE else {}
        rank, device = self.acc.process_index, self.acc.device
        codes = torch.zeros(self.world, dtype=torch.int64)
        codes[rank] = code
        try:
            codes = self.acc.reduce(codes.to(device), "sum").cpu()
            if not codes.any():
                return {}
            text = torch.zeros(self.world, _MESSAGE_BYTES, dtype=torch.uint8)
            raw = message.encode()[:_MESSAGE_BYTES]
            text[rank, : len(raw)] = torch.tensor(list(raw), dtype=torch.uint8)
            text = self.acc.reduce(text.to(device), "sum").cpu()
        except Exception as err:  # the group broke: a process died or shut it down
            self.settled = True
            raise ProcessFailed(
                f"the processes could not agree ({describe(err)}): another process failed or "
                f"exited; see its error"
            ) from err
        said = {
            r: bytes(text[r].tolist()).rstrip(b"\0").decode(errors="replace")
            for r in range(self.world)
            if codes[r]
        }
        failed = {r: m for r, m in said.items() if codes[r] == _FAILED}
        if not failed:
            return said
        self.settled = True
        if code == _FAILED:
            return failed
        raise ProcessFailed(
            "; ".join(f"process {r} failed: {m}" for r, m in failed.items()), failed
        )
