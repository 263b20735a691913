"""Print the `pip:` list of environment.yml as a requirements file (stdlib only).

environment.yml is the single source of truth; `make env` pipes this into pip so that the
conda path and the pip path install the same pinned versions.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def pip_requirements(env_file: Path) -> list[str]:
    """Return the pinned requirements under `dependencies: - pip:` of a conda env file."""
    reqs: list[str] = []
    in_pip = False
    pip_indent = -1
    for number, raw in enumerate(env_file.read_text().splitlines(), start=1):
        line = raw.split(" #")[0].rstrip()  # drop trailing comments
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if re.match(r"\s*-\s*pip:\s*$", line):
            in_pip, pip_indent = True, indent
            continue
        if in_pip:
            if indent <= pip_indent:
                in_pip = False
                continue
            m = re.match(r"\s*-\s*(\S+)$", line)
            if not m:
                raise ValueError(f"{env_file}:{number}: not a pip requirement: {raw.strip()!r}")
            reqs.append(m.group(1))
    if not reqs:
        raise ValueError(f"{env_file}: no `- pip:` list under dependencies")
    unpinned = [r for r in reqs if "==" not in r]
    if unpinned:
        raise ValueError(f"{env_file}: every pip requirement must be pinned with ==: {unpinned}")
    return reqs


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "environment.yml")
    print("\n".join(pip_requirements(path)))
