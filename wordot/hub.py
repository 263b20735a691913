"""The Hugging Face hub and other download sites, seen from a machine that may be offline.

One place decides whether to try the network: offline mode (``HF_HUB_OFFLINE=1`` or
``TRANSFORMERS_OFFLINE=1``, read from the environment when asked) and a quick reachability
probe, so that an offline machine fails in a second with a message that says what is missing and
how to get it, instead of retrying for minutes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

__all__ = [
    "NotAvailableError",
    "hf_offline",
    "hf_home",
    "hf_hub_cache",
    "hf_endpoint",
    "reachable",
    "offline_mode",
    "offline_reason",
]

#: seconds a reachability probe waits before calling a site unreachable
PROBE_TIMEOUT = 3.0


class NotAvailableError(RuntimeError):
    """A model, corpus or data set is not on this machine and cannot be downloaded now.

    The message names what is missing and how to get it."""


def _env_true(var: str) -> bool:
    return os.environ.get(var, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def hf_offline() -> bool:
    """Offline mode, read from the environment now (huggingface_hub reads it at import)."""
    if _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE"):
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        return False


def hf_home() -> Path:
    """``$HF_HOME``, else ``$XDG_CACHE_HOME/huggingface``, else ``~/.cache/huggingface``."""
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "huggingface"


def hf_hub_cache() -> Path:
    """The hub's model/data cache directory, from the environment as it is now."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    return hf_home() / "hub"


def hf_endpoint() -> str:
    """The hub's address (``$HF_ENDPOINT`` or huggingface.co)."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def _behind_proxy() -> bool:
    names = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")
    return any(os.environ.get(k) for k in names)


def reachable(url: str, timeout: float = PROBE_TIMEOUT) -> tuple[bool, str]:
    """Whether ``url``'s host accepts a TCP connection within ``timeout`` seconds.

    Returns ``(reachable, reason when not)``. The probe runs in a daemon thread, so a slow DNS
    lookup cannot block longer than the timeout. Behind a proxy a direct connection says
    nothing, so then the answer is ``True`` and the download library decides.
    """
    if _behind_proxy():
        return True, ""
    parsed = urlparse(url)
    if not parsed.hostname:
        return False, f"{url!r} names no host"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    result: dict[str, Any] = {}

    def probe() -> None:
        try:
            with socket.create_connection((parsed.hostname, port), timeout=timeout):
                result["ok"] = True
        except OSError as err:
            result["error"] = f"{type(err).__name__}: {err}"

    thread = threading.Thread(target=probe, name="wordot-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    if result.get("ok"):
        return True, ""
    return False, result.get("error", f"no answer within {timeout:.0f} s")


def offline_reason(url: str | None = None, timeout: float = PROBE_TIMEOUT) -> str | None:
    """Why the network must not be tried for ``url`` (default: the hub), or None if it may."""
    if hf_offline():
        return "offline mode is on (HF_HUB_OFFLINE=1)"
    ok, why = reachable(url or hf_endpoint(), timeout)
    return None if ok else f"{urlparse(url or hf_endpoint()).hostname} is unreachable ({why})"


@contextlib.contextmanager
def offline_mode() -> Iterator[None]:
    """Run ``datasets`` and ``huggingface_hub`` cache-only, as under ``HF_HUB_OFFLINE=1``."""
    import datasets
    import huggingface_hub.constants as hub_constants

    old = datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE = old
