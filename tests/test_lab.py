"""`sudo ./course lab` as a student meets it: JupyterLab (tools/lab.py) in a real browser, headless
Chromium from Debian driven by selenium, opens chapter 1, runs its cells and shows a container's
output. The server runs on a free 127.0.0.1 port, on a copy of the notebooks (running cells saves
them), and is stopped with its kernels at the end."""
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from support import ROOT, require, require_root

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
CHAPTER = "notebooks/01_namespaces.ipynb"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """tools/lab.py serving a copy of the course; yields its base URL and token."""
    require_root()
    require(importlib.util.find_spec("jupyterlab"), "JupyterLab is not installed (./course lab installs it)")
    course = tmp_path / "course"
    for part in ("notebooks", "scripts"):
        shutil.copytree(ROOT / part, course / part)
    settings = tmp_path / "settings/@jupyterlab/notebook-extension"
    settings.mkdir(parents=True)     # every cell in the page, not only those on screen
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = free_port(), "course-test-" + os.urandom(8).hex()
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}  # ipykernel would drop child output
    env.update(MINIDOCKER_LAB_TOKEN=token, PYTHONPATH=str(ROOT), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    server = subprocess.Popen([sys.executable, str(ROOT / "tools/lab.py"), "--port", str(port),
                               "--checkpoints", str(tmp_path / "checkpoints"), "--course", str(course),
                               f"--LabServerApp.user_settings_dir={tmp_path / 'settings'}",
                               "--LabApp.expose_app_in_browser=True"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.2)
        yield base, token
    finally:
        server.terminate()                         # JupyterLab shuts its kernels down on SIGTERM
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        try:
            os.killpg(server.pid, signal.SIGKILL)      # a kernel that outlived its server
        except ProcessLookupError:
            pass


@pytest.fixture
def browser(tmp_path):
    require(CHROMIUM and CHROMEDRIVER, "needs Debian's chromium and chromium-driver (./course test installs them)")
    require(importlib.util.find_spec("selenium"), "selenium is not installed (requirements.txt)")
    from selenium import webdriver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


NOTEBOOK = "return window.jupyterapp && jupyterapp.shell.currentWidget && jupyterapp.shell.currentWidget.content"
STATE = NOTEBOOK + """ && (() => {
  const panel = jupyterapp.shell.currentWidget, cells = panel.content.model.cells;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type === 'code') out.push({count: cell.executionCount, outputs: cell.outputs.toJSON()});
  }
  return {kernel: kernel ? kernel.status : null, cells: out};
})()"""


def test_chapter_1_runs_in_jupyterlab_and_shows_a_container(lab, browser, tmp_path):
    base, token = lab
    browser.get(f"{base}/lab/tree/{CHAPTER}?token={token}")
    state = wait(browser, STATE, lambda s: s and s["kernel"] == "idle", 180, "the notebook and its kernel")
    assert len(state["cells"]) > 5
    browser.execute_script("jupyterapp.commands.execute('notebook:run-all-cells')")
    failed = lambda s: any(o["output_type"] == "error" for c in s["cells"] for o in c["outputs"])
    state = wait(browser, STATE, lambda s: s["kernel"] == "idle" and (failed(s) or all(c["count"] for c in s["cells"])),
                 600, "every cell to run")
    # What the student sees on the page: a shell that is PID 1 of its own PID namespace.
    page = browser.execute_script("return document.querySelector('.jp-NotebookPanel').innerText")
    assert "my PID is 1\n" in page or "PID 1 on demo" in page, page[-3000:]
    # Every cell up to that container's output ran cleanly. (The chapter's own checks, later, are
    # test_literate's job: on a shared machine its host-wide assertions may see other tests.)
    shown = next(i for i, c in enumerate(state["cells"])
                 if any("my PID is 1\n" in o.get("text", "") or "PID 1 on demo" in o.get("text", "") for o in c["outputs"]))
    errors = [o for c in state["cells"][:shown + 1] for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, "\n".join(errors[0]["traceback"])[-3000:]
    browser.save_screenshot(str(tmp_path / "chapter1.png"))


def wait(browser, script, done, seconds, what):
    deadline = time.monotonic() + seconds
    value = None
    while time.monotonic() < deadline:
        value = browser.execute_script(script)
        if value and done(value):
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}: {str(value)[-2000:]}")
