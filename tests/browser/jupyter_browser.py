"""Helpers for the browser tests: the Jupyter server, the guarded browser page, page scripts.

Kept apart from ``conftest.py`` (which holds only fixtures) so test modules can import
them by a unique module name.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("SEEDREAM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SIM_SPEED = "20"
SLOW_KERNEL = "seedream-slow"
SLOW_WORK_KERNEL = "seedream-slow-work"  # tasks start at once but process for ~30 s
SLOW_NOTEBOOK = "02-panel-slow.ipynb"
SENTINEL_KEY = "sentinel-key-browser-0123456789"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
TIMEOUT_MS = 30_000

# Console messages of type "error" that are not ours and not a problem, each with why.
BENIGN_CONSOLE_ERRORS: tuple[tuple[str, str], ...] = (
    # Requests we abort on purpose are reported by Chromium as failed loads; they are
    # recorded (and asserted on) separately as ``external``.
    (r"net::ERR_FAILED", "an external request aborted by the test's route guard"),
    # Notebook 7.6 (its bundled @jupyterlab/shortcuts-extension) throws this on every page
    # load when a plugin's settings fail to load, e.g. on a plain `jupyter notebook` /tree
    # page with no extension installed; it is not caused by this project.
    (
        r"^pageerror: Cannot read properties of undefined \(reading 'schema'\)"
        r" @ \S+/(tree|notebooks)(/|$)",
        "Notebook 7.6 shortcuts-extension bug (upstream), seen on a vanilla server",
    ),
)

# -- the Jupyter server -----------------------------------------------------------------------


@dataclass
class JupyterServer:
    url: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.url}{path}", timeout=10)
        response.raise_for_status()
        return response.json()

    def shutdown_kernels(self) -> None:
        """Delete every session and kernel (the server stays up)."""
        with contextlib.suppress(httpx.HTTPError):
            for session in self.get("/api/sessions"):
                httpx.delete(f"{self.url}/api/sessions/{session['id']}", timeout=10)
            for kernel in self.get("/api/kernels"):
                httpx.delete(f"{self.url}/api/kernels/{kernel['id']}", timeout=10)

    def stop(self) -> None:
        """Shut down every kernel, then the server (SIGTERM, then SIGKILL); keep its log."""
        try:
            self.shutdown_kernels()
        finally:
            _stop(self.process)
            with contextlib.suppress(OSError):
                ARTIFACTS.mkdir(exist_ok=True)
                shutil.copyfile(self.log, ARTIFACTS / "browser-jupyter-server.log")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _write_slow_notebook(root: Path) -> None:
    nb = json.loads((root / "02-panel.ipynb").read_text(encoding="utf-8"))
    nb.setdefault("metadata", {})["kernelspec"] = {
        "name": SLOW_KERNEL,
        "display_name": "Python 3 (slow simulator)",
        "language": "python",
    }
    (root / SLOW_NOTEBOOK).write_text(json.dumps(nb, indent=1), encoding="utf-8")


def _write_kernelspec(data: Path, slow_url: str, name: str = SLOW_KERNEL) -> None:
    spec = data / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": f"Python 3 ({name})",
                "language": "python",
                "env": {"SEEDREAM_BASE_URL": slow_url, "WAVE_API_KEY": SENTINEL_KEY},
            }
        ),
        encoding="utf-8",
    )


def write_notebook(root: Path, name: str, sources: list[str], kernel: str = "python3") -> str:
    """A notebook of code cells (no outputs) in the server's root; returns its path."""
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"c{i}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for i, source in enumerate(sources)
    ]
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": kernel, "display_name": kernel, "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / name).write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return name


def _server_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEEDREAM_", "WAVE_"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTER_PATH=os.pathsep.join(filter(None, [str(tmp / "data"), env.get("JUPYTER_PATH")])),
        IPYTHONDIR=str(tmp / "ipython"),
        SEEDREAM_HOME=str(tmp / "seedream-home"),
        SEEDREAM_SIM_SPEED=SIM_SPEED,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def start_server(tmp: Path, slow_url: str, slow_work_url: str | None = None) -> JupyterServer:
    """Start ``jupyter lab`` as described in the module docstring; stop it with ``stop()``."""
    root = tmp / "root"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    _write_slow_notebook(root)
    labconfig = tmp / "config" / "labconfig"
    labconfig.mkdir(parents=True)
    # The same file is read by JupyterLab and Notebook 7 (``jupyter labextension disable``
    # writes exactly this).
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}),
        encoding="utf-8",
    )
    (tmp / "runtime").mkdir()
    (tmp / "notary").mkdir()
    _write_kernelspec(tmp / "data", slow_url)
    if slow_work_url is not None:
        _write_kernelspec(tmp / "data", slow_work_url, SLOW_WORK_KERNEL)
    # The pre-save hook, enabled as the installed package enables it (the same file).
    config_d = tmp / "config" / "jupyter_server_config.d"
    config_d.mkdir(parents=True)
    shutil.copyfile(
        ROOT / "jupyter-config" / "server-config" / "seedream_jupyter.json",
        config_d / "seedream_jupyter.json",
    )
    log = tmp / "server.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port=0",
        "--ServerApp.port_retries=0",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        "--ServerApp.allow_root=True",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        f"--NotebookNotary.data_dir={tmp / 'notary'}",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=_server_env(tmp),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        info = tmp / "runtime" / f"jpserver-{process.pid}.json"
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited:\n{log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab did not start:\n{log.read_text(errors='replace')}")
            if info.exists():
                with contextlib.suppress(ValueError, OSError, KeyError, httpx.HTTPError):
                    url = json.loads(info.read_text())["url"].rstrip("/")
                    if httpx.get(f"{url}/api/status", timeout=2).is_success:
                        return JupyterServer(url, root, process, log)
            time.sleep(0.1)
    except BaseException:
        _stop(process)
        raise


# JavaScript run in the page. Each returns a value Playwright can serialise.

JS_WAIT_APP = """async () => {
  const app = window.jupyterapp;
  await app.started;
  await app.restored;
  return app.name || "app";
}"""

JS_OPEN_IN_LAB = """async (path) => {
  const app = window.jupyterapp;
  const panel = await app.commands.execute("docmanager:open", {path, factory: "Notebook"});
  await panel.context.ready;
  await panel.sessionContext.ready;
  app.shell.activateById(panel.id);
  return panel.id;
}"""

JS_CURRENT_READY = """async () => {
  const panel = window.jupyterapp.shell.currentWidget;
  await panel.context.ready;
  await panel.sessionContext.ready;
  return panel.context.path;
}"""

# Start running every cell and return at once (a blocking cell may wait for a click).
JS_START_ALL = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.sessionContext.ready;
  app.commands.execute("notebook:run-all-cells");
  return true;
}"""

JS_SAVE = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.context.save();
  return panel.context.path;
}"""

JS_SET_THEME = """async (theme) => {
  const app = window.jupyterapp;
  await app.commands.execute("apputils:change-theme", {theme});
  return document.body.dataset.jpThemeName || theme;
}"""

# Every image in the cells' outputs, and whether each has loaded; any widget failure text.
JS_OUTPUT_IMAGES = """() => {
  const imgs = [...document.querySelectorAll(".jp-OutputArea-output img")];
  const text = document.body.innerText;
  return {
    total: imgs.length,
    loaded: imgs.filter((img) => img.complete && img.naturalWidth > 0).length,
    alts: imgs.map((img) => img.alt || ""),
    failures: ["model not found", "Error displaying widget", "Loading widget"]
      .filter((f) => text.includes(f)),
  };
}"""

JS_RUN_ALL = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.sessionContext.ready;
  const ok = await app.commands.execute("notebook:run-all-cells");
  return ok === undefined ? true : ok;
}"""

JS_KERNEL_STATUS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return kernel ? kernel.status : "none";
}"""

JS_EXECUTION_COUNTS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const counts = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    counts.push(cell.type === "code" ? cell.executionCount : null);
  }
  return counts;
}"""

JS_ERROR_OUTPUTS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const errors = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== "code") continue;
    for (const out of cell.outputs.toJSON()) {
      if (out.output_type === "error") errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
    }
  }
  return errors;
}"""

# Records every value each TaskView progress bar shows, and every status of each view,
# from the moment it is installed (MutationObserver: nothing is missed between polls).
# A view re-rendered by ``update_display`` is a new DOM node: records are merged by task id.
JS_RECORD_PROGRESS = """() => {
  if (window.__sjRecord) return true;
  const rec = {values: {}, statuses: {}, ids: {}, next: 0};
  window.__sjRecord = rec;
  const idOf = (node) => {
    if (!node.dataset.sjN) node.dataset.sjN = String(rec.next++);
    return node.dataset.sjN;
  };
  const push = (map, key, value) => {
    const list = (map[key] = map[key] || []);
    if (value !== null && value !== undefined && list[list.length - 1] !== value) list.push(value);
  };
  const seeTask = (task) => {
    const n = idOf(task);
    push(rec.statuses, n, task.dataset.status);
    const bar = task.querySelector(".sj-bar");
    if (bar) push(rec.values, n, bar.getAttribute("aria-valuenow"));
    const id = task.querySelector(".sj-id-text");
    if (id && id.textContent) rec.ids[n] = id.textContent;
  };
  const observer = new MutationObserver((mutations) => {
    for (const m of mutations) {
      const target = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      const task = target && target.closest && target.closest(".sj-task");
      if (task) seeTask(task);
      for (const node of m.addedNodes || []) {
        if (!node.querySelectorAll) continue;
        if (node.matches && node.matches(".sj-task")) seeTask(node);
        node.querySelectorAll(".sj-task").forEach(seeTask);
      }
    }
  });
  observer.observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true,
    attributeFilter: ["aria-valuenow", "data-status"],
  });
  document.querySelectorAll(".sj-task").forEach(seeTask);
  return true;
}"""

JS_RECORDED = """(task) => {
  const rec = window.__sjRecord;
  const own = task.dataset.sjN;
  const id = rec.ids[own];
  const nodes = Object.keys(rec.values)
    .filter((n) => n === own || (id && rec.ids[n] === id))
    .sort((a, b) => Number(a) - Number(b));
  const values = [], statuses = [];
  for (const n of nodes) {
    values.push(...(rec.values[n] || []));
    statuses.push(...(rec.statuses[n] || []));
  }
  return {values, statuses, taskId: id || null};
}"""

JS_IMAGES_LOADED = """(root) => {
  const imgs = [...root.querySelectorAll(".sj-gallery img")];
  return imgs.length > 0 && imgs.every((img) => img.complete && img.naturalWidth > 0);
}"""

WIDGET_FAILURES = ("Error displaying widget", "Loading widget...", "Failed to load model class")


@dataclass
class Browse:
    """One browser context for one test, with its guards and helpers."""

    server: JupyterServer
    context: BrowserContext
    page: Page
    name: str
    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    ignored_console: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    # -- guards ---------------------------------------------------------------------------
    def _route(self, route: Any) -> None:
        url = route.request.url
        host = urlsplit(url).hostname
        if url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        text = f"{message.text} @ {message.location.get('url', '')}"
        if any(re.search(pattern, text) for pattern, _why in BENIGN_CONSOLE_ERRORS):
            self.ignored_console.append(text)
        else:
            self.console_errors.append(text)

    def _pageerror(self, exc: Any) -> None:
        text = f"pageerror: {exc} @ {self.page.url}"
        if any(re.search(pattern, text) for pattern, _why in BENIGN_CONSOLE_ERRORS):
            self.ignored_console.append(text)
        else:
            self.console_errors.append(text)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        with contextlib.suppress(Exception):
            dialog.dismiss()

    def install(self) -> None:
        self.context.route("**/*", self._route)
        self.page.on("console", self._console)
        self.page.on("pageerror", self._pageerror)
        self.page.on("dialog", self._dialog)
        self.page.set_default_timeout(TIMEOUT_MS)

    def assert_clean(self) -> None:
        """No request left 127.0.0.1, no console errors, no dialogs, no broken widgets."""
        assert self.external == [], f"requests that would have left 127.0.0.1: {self.external}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"
        text = self.page.evaluate("() => document.body.innerText")
        for failure in WIDGET_FAILURES:
            assert failure not in text, f"a widget failed to render: {failure!r}"

    # -- driving the app --------------------------------------------------------------------
    def call(self, script: str, arg: Any = None, timeout_ms: int = TIMEOUT_MS) -> Any:
        """Evaluate an async page script, failing (not hanging) after ``timeout_ms``."""
        race = (
            "([arg, ms]) => Promise.race(["
            f"({script})(arg),"
            " new Promise((_, reject) => setTimeout("
            "() => reject(new Error(`page script timed out after ${ms} ms`)), ms))])"
        )
        return self.page.evaluate(race, [arg, timeout_ms])

    def goto(self, path: str) -> None:
        self.page.goto(f"{self.server.url}{path}")
        self.page.wait_for_function("() => window.jupyterapp !== undefined")
        self.call(JS_WAIT_APP)

    def open_notebook(self, path: str, ui: str) -> None:
        """Open a notebook in JupyterLab (command API) or Notebook 7 (its own page)."""
        if ui == "lab":
            self.goto("/lab?reset")
            self.call(JS_OPEN_IN_LAB, path)
        else:
            self.goto(f"/notebooks/{path}")
            self.page.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " return !!(w && w.sessionContext && w.content); }"
            )
            assert self.call(JS_CURRENT_READY) == path

    def run_all(self, timeout_ms: int = TIMEOUT_MS) -> None:
        """Run every cell (``notebook:run-all-cells``) and wait until they have all run."""
        self.call(JS_RUN_ALL, None, timeout_ms)

    def record_progress(self) -> None:
        self.page.evaluate(JS_RECORD_PROGRESS)

    def recorded(self, task: Any) -> dict[str, list[str]]:
        result: dict[str, list[str]] = task.evaluate(JS_RECORDED)
        return result

    def images_loaded(self, root: Any) -> None:
        """Wait until every gallery image under ``root`` has decoded (naturalWidth > 0)."""
        root.locator(".sj-gallery img").first.scroll_into_view_if_needed()
        root.locator(".sj-gallery img").last.scroll_into_view_if_needed()
        self.page.wait_for_function(JS_IMAGES_LOADED, arg=root.element_handle())

    def kernel_status(self) -> str:
        status: str = self.page.evaluate(JS_KERNEL_STATUS)
        return status

    def screenshot_path(self, label: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        return ARTIFACTS / f"browser-{label}.png"

    def screenshot(self, label: str, element: Any = None) -> Path:
        path = self.screenshot_path(label)
        if element is not None:
            with contextlib.suppress(Exception):
                element.scroll_into_view_if_needed()
        self.page.screenshot(path=str(path))
        return path
