"""A student's first minutes, in a real browser: JupyterLab on loopback serving the published student tree,
driven through Debian's Chromium by Playwright. Saves a screenshot to build/test-artifacts/.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT
from course import publish

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = ROOT / "build" / "test-artifacts"
TOKEN = "course-browser-test"
SCALE_ANSWER = "def scale_mnist_data(train_images, test_images):\n    return train_images / 255.0, test_images / 255.0\n"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (.ci/run installs it)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def jupyter_lab(tmp_path_factory, mnist_path):
    tree = tmp_path_factory.mktemp("student") / "tree"
    publish.main(tree, "acme", "cnn-student", "main", root=ROOT)
    port = free_port()
    log = open(tmp_path_factory.mktemp("logs") / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={tree}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--allow-root"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "JUPYTER_CONFIG_DIR": str(tree / ".jupyter-config")},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail(f"jupyter lab did not start; see {log.name}")
    yield url
    server.terminate()
    server.wait(timeout=30)
    log.close()


def test_student_runs_cells_and_a_self_check_in_jupyterlab(jupyter_lab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    user_data = tmp_path / "chromium-profile"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(user_data), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, viewport={"width": 1400, "height": 1000}
        )
        page = browser.new_page()
        try:
            page.goto(f"{jupyter_lab}/lab/tree/mnist_cnn/mnist_cnn.ipynb?token={TOKEN}")
            cells = page.locator(".jp-Notebook .jp-Cell")
            expect(cells.first).to_be_visible(timeout=60_000)
            expect(page.locator(".jp-StatusBar-TextItem", has_text="Python 3 (ipykernel) | Idle")).to_be_visible(timeout=60_000)
            no_news = page.locator("button.jp-toast-button", has_text="No")
            if no_news.count():
                no_news.first.click()

            def run(index):
                cells.nth(index).locator(".cm-content").click()
                page.keyboard.press("Shift+Enter")

            # the imports and the data loading
            run(1)
            run(3)
            expect(cells.nth(3).locator(".jp-OutputArea-output")).to_contain_text("60000 training images", timeout=120_000)
            # write scale_mnist_data as a student would, run it, then the self-check cell below it
            cells.nth(5).locator(".cm-content").click()
            page.keyboard.press("Control+a")
            page.keyboard.insert_text(SCALE_ANSWER)
            page.keyboard.press("Shift+Enter")
            run(6)
            check_output = cells.nth(6).locator(".jp-OutputArea-output")
            expect(check_output).to_contain_text("✓ scale_mnist_data passes the visible checks", timeout=60_000)
        finally:
            page.screenshot(path=str(ARTIFACTS / "jupyterlab_self_check.png"), full_page=False)
            browser.close()
    assert (ARTIFACTS / "jupyterlab_self_check.png").stat().st_size > 10_000
    shutil.rmtree(user_data, ignore_errors=True)
