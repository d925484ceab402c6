"""The page's templates, style and script are in the package as installed: ``pip install .``
(not editable) into a fresh folder, and that copy of mvsepd serves them.

Built offline with the project's own build backend (hatchling, in the test extra).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.support import ROOT

#: Run by the installed copy (its folder first on the path, this checkout nowhere on it).
PROBE = """
import sys
import mvsepd
from pathlib import Path
from werkzeug.test import Client
from mvsepd.page.access import PageKeys
from mvsepd.page.app import PageApp
from mvsepd.page.visit import Renderer

assert Path(mvsepd.__file__).is_relative_to(Path(sys.argv[1])), mvsepd.__file__

class Host:
    keys = PageKeys(b"installed")

client = Client(PageApp(Host()))
base = {"REMOTE_ADDR": "127.0.0.1"}
for name, words in (("page.css", "--accent"), ("page.js", "data-live"), ("icon.svg", "<svg")):
    answer = client.get("/static/" + name, base_url="http://127.0.0.1:6877", environ_base=base)
    assert answer.status_code == 200 and words in answer.get_data(as_text=True), name
signed_out = client.get("/", base_url="http://127.0.0.1:6877", environ_base=base)
assert signed_out.status_code == 401 and "mvsepd open" in signed_out.get_data(as_text=True)
text = Renderer().render(
    "missing.html",
    {"csrf": "0", "section": "", "version": "x", "note": None, "paused": False,
     "token_problem": None, "what": "nothing"},
)
assert '<link rel="stylesheet" href="/static/page.css">' in text
templates = Path(mvsepd.__file__).parent / "page" / "templates"
print(" ".join(sorted(path.name for path in templates.iterdir())))
"""


def test_pip_install_dot_serves_the_pages_files(tmp_path: Path) -> None:
    target = tmp_path / "installed"
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
            "--no-build-isolation", "--target", str(target), str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    assert not (target / "mvsepd" / "__editable__").exists()
    probed = subprocess.run(
        [sys.executable, "-c", PROBE, str(target)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probed.returncode == 0, probed.stderr
    templates = set(probed.stdout.split())
    shipped = {path.name for path in (ROOT / "mvsepd" / "page" / "templates").iterdir()}
    assert templates == shipped
