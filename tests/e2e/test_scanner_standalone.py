"""End-to-end test of the scanner page's camera path, without Django.

A tiny static page following the scanner page's DOM contract is served with
the production Content-Security-Policy, together with the project's real
``static/`` directory (scanner.js, scanner.css, the vendored BarcodeDetector
ponyfill and its self-hosted zxing wasm). Chromium is fed a QR code through a
fake camera; the test checks that the code is read, put in the input and
POSTed with the right fields, that the verdict fragment is shown, and that the
page never talks to another origin and logs no console error.

Run: .venv/bin/python -m pytest -p no:django -p no:cacheprovider \
         tests/e2e/test_scanner_standalone.py -q
"""

from __future__ import annotations

import email.parser
import email.policy
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.fakecam import chromium_fake_camera_args, write_y4m

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = REPO_ROOT / "static"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

CSP = (
    "script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; default-src 'self'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'"
)

BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
COUPON_TEXT = "PCN1:" + "".join(BASE32_ALPHABET[(i * 7 + 3) % 32] for i in range(140))
INITIAL_CLIENT_ID = "0b6c3a55-8f1e-4c3d-9a57-2f4d0e9b7c11"
WASM_PATH = "/static/vendor/barcode-detector/zxing_reader.wasm"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

VERDICT_FRAGMENT = (
    '<div class="verdict verdict--accepted" data-status="accepted">'
    '<p class="verdict__title">Accepté</p>'
    '<button type="button" id="scan-next" class="button">Scanner un autre coupon</button>'
    "</div>"
)

SCANNER_PAGE = f"""<!doctype html>
<html lang="fr-CA">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Scanner un coupon</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/css/scanner.css">
</head>
<body>
<main class="scanner" data-scanner data-wasm-url="{WASM_PATH}">
  <section class="scanner__camera" id="camera-section" hidden>
    <video id="scanner-video" playsinline muted></video>
    <button type="button" id="camera-start"
            class="button button--primary">Activer la caméra</button>
    <p id="camera-status" role="status"></p>
  </section>
  <form id="scan-form" method="post" action="/scanner/">
    <input type="hidden" name="csrfmiddlewaretoken" value="jeton-csrf-de-test">
    <input type="hidden" name="client_id" value="{INITIAL_CLIENT_ID}">
    <label for="id_code">Code manuel</label>
    <input id="id_code" name="code" autocomplete="off" autocapitalize="characters"
           spellcheck="false">
    <label for="id_category">Catégorie</label>
    <select id="id_category" name="category">
      <option value="fruits-legumes">Fruits et légumes</option>
      <option value="autres">Autres</option>
    </select>
    <button type="submit" class="button button--primary">Valider le coupon</button>
  </form>
  <div id="verdict" aria-live="assertive" tabindex="-1"></div>
</main>
<script src="/static/vendor/barcode-detector/barcode-detector.iife.js"></script>
<script src="/static/js/scanner.js"></script>
</body>
</html>
"""


@pytest.fixture(autouse=True)
def _fast_and_french() -> None:
    """Override tests/conftest.py's Django-settings fixture: this test module
    never touches Django and must also run with ``-p no:django``."""


# --------------------------------------------------------------------------
# Test server
# --------------------------------------------------------------------------


@dataclass
class ServerState:
    site_dir: Path
    posts: list[dict[str, Any]] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # When set, the next POST waits for this event before answering.
    hold_next_post: threading.Event | None = None

    def reset(self) -> None:
        with self.lock:
            self.posts.clear()
            self.gets.clear()
            self.hold_next_post = None


def _parse_multipart(content_type: str, body: bytes) -> dict[str, str]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        fields[str(name)] = payload.decode("utf-8")
    return fields


def _make_handler(state: ServerState) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def translate_path(self, path: str) -> str:
            url_path = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
            if url_path.startswith("/static/"):
                base, rel = STATIC_DIR, url_path[len("/static/") :]
            else:
                base, rel = state.site_dir, url_path.lstrip("/")
            base = base.resolve()
            full = (base / rel).resolve()
            if full != base and base not in full.parents:
                return str(base / "__introuvable__")
            return str(full)

        def end_headers(self) -> None:
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def do_GET(self) -> None:
            with state.lock:
                state.gets.append(self.path)
            super().do_GET()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            fields = _parse_multipart(self.headers.get("Content-Type", ""), body)
            with state.lock:
                state.posts.append(
                    {"path": self.path, "fields": fields, "headers": dict(self.headers.items())}
                )
                hold, state.hold_next_post = state.hold_next_post, None
            if hold is not None:
                hold.wait(timeout=20)
            payload = VERDICT_FRAGMENT.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ServerState]]:
    site_dir = tmp_path_factory.mktemp("site")
    (site_dir / "scanner").mkdir()
    (site_dir / "scanner" / "index.html").write_text(SCANNER_PAGE, encoding="utf-8")
    state = ServerState(site_dir=site_dir)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="scanner-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------
# Browser with a fake camera showing the coupon's QR code
# --------------------------------------------------------------------------


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + ": required on CI", pytrace=False)
    pytest.skip(message)


def _coupon_qr_image():  # type: ignore[no-untyped-def]
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    qr.add_data(COUPON_TEXT)
    qr.make(fit=True)
    return qr.make_image(fill_color="black", back_color="white").get_image()


@pytest.fixture(scope="module")
def y4m_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    image = _coupon_qr_image()
    try:
        import zxingcpp
    except ImportError:  # pragma: no cover - zxing-cpp is a dev dependency
        pass
    else:  # Sanity check of the test input itself.
        assert [r.text for r in zxingcpp.read_barcodes(image)] == [COUPON_TEXT]
    path = tmp_path_factory.mktemp("camera") / "coupon.y4m"
    write_y4m(image, path)
    return path


@pytest.fixture(scope="module")
def browser(y4m_path: Path) -> Iterator[Any]:
    _require_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("playwright is not installed: required on CI", pytrace=False)
        pytest.skip("playwright is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS + chromium_fake_camera_args(y4m_path),
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageLog:
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture
def page_and_log(browser: Any, server: tuple[str, ServerState]) -> Iterator[tuple[Any, PageLog]]:
    origin, state = server
    state.reset()
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-CA")
    context.grant_permissions(["camera"], origin=origin)
    # Force the vendored ponyfill (and so the self-hosted wasm) even on a
    # Chromium build that ships a native BarcodeDetector. Init scripts are
    # injected by the browser, not subject to the page's CSP.
    context.add_init_script(
        "delete window.BarcodeDetector;"
        "window.__cspViolations = [];"
        "document.addEventListener('securitypolicyviolation', (e) => {"
        "  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);"
        "});"
    )
    page = context.new_page()
    log = PageLog()
    page.on("request", lambda request: log.requests.append(request.url))
    page.on(
        "console",
        lambda msg: log.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    page.on("pageerror", lambda exc: log.page_errors.append(str(exc)))
    try:
        yield page, log
    finally:
        context.close()


def _wait_for(predicate: Any, timeout: float = 20.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")


def _assert_same_origin_only(log: PageLog, origin: str) -> None:
    foreign = [
        url
        for url in log.requests
        if not (url.startswith(origin + "/") or url.startswith(("data:", "blob:")))
    ]
    assert foreign == [], f"requests to other origins: {foreign}"


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


def test_camera_scan_reads_qr_and_posts_it(
    page_and_log: tuple[Any, PageLog], server: tuple[str, ServerState]
) -> None:
    page, log = page_and_log
    origin, state = server
    hold = threading.Event()
    state.hold_next_post = hold

    page.goto(f"{origin}/scanner/")
    page.wait_for_selector("#camera-section:not([hidden])", timeout=10_000)
    assert page.evaluate("typeof window.BarcodeDetector") == "undefined"

    page.click("#camera-start")

    # The first POST is held by the server: look at the page meanwhile.
    _wait_for(lambda: len(state.posts) >= 1, timeout=30, message="the scanned code to be POSTed")
    assert page.input_value("#id_code") == COUPON_TEXT
    page.wait_for_selector("#verdict .verdict--pending", timeout=5_000)
    assert "Vérification…" in page.inner_text("#verdict")
    hold.set()

    first = state.posts[0]
    assert first["path"] == "/scanner/"
    assert first["fields"]["code"] == COUPON_TEXT
    assert first["fields"]["client_id"] == INITIAL_CLIENT_ID
    assert first["fields"]["csrfmiddlewaretoken"] == "jeton-csrf-de-test"
    assert first["fields"]["category"] == "fruits-legumes"
    assert first["headers"].get("X-Scanner") == "fetch"

    page.wait_for_selector('#verdict [data-status="accepted"]', timeout=10_000)
    assert "Accepté" in page.inner_text("#verdict")
    assert page.evaluate("document.activeElement && document.activeElement.id") == "verdict"
    assert page.input_value("#id_code") == ""
    second_client_id = page.input_value('input[name="client_id"]')
    assert UUID_RE.match(second_client_id), second_client_id
    assert second_client_id != INITIAL_CLIENT_ID

    # Detection is paused while the verdict is shown...
    time.sleep(1.0)
    assert len(state.posts) == 1

    # ...and resumes with "Scanner un autre coupon": the same QR is still in
    # front of the camera, so it is read again as a new scan (new client_id).
    page.click("#scan-next")
    _wait_for(lambda: len(state.posts) >= 2, timeout=30, message="the second scan")
    second = state.posts[1]
    assert second["fields"]["code"] == COUPON_TEXT
    assert second["fields"]["client_id"] == second_client_id
    page.wait_for_selector('#verdict [data-status="accepted"]', timeout=10_000)
    third_client_id = page.input_value('input[name="client_id"]')
    assert UUID_RE.match(third_client_id) and third_client_id != second_client_id

    # The polyfill used our self-hosted wasm, nothing else was contacted.
    assert WASM_PATH in state.gets, state.gets
    _assert_same_origin_only(log, origin)
    assert page.evaluate("window.__cspViolations") == []
    assert log.page_errors == []
    assert log.console_errors == []


def test_network_error_keeps_code_and_client_id_for_retry(
    page_and_log: tuple[Any, PageLog], server: tuple[str, ServerState]
) -> None:
    page, log = page_and_log
    origin, state = server
    aborted: list[str] = []

    def drop_first_post(route: Any) -> None:
        if route.request.method == "POST" and not aborted:
            aborted.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route(f"{origin}/scanner/", drop_first_post)
    page.goto(f"{origin}/scanner/")
    page.fill("#id_code", COUPON_TEXT)
    page.click("#scan-form button[type=submit]")

    page.wait_for_selector("#verdict .verdict--error", timeout=10_000)
    assert aborted, "the first POST should have been dropped"
    assert "réessayez" in page.inner_text("#verdict").lower()
    assert page.input_value("#id_code") == COUPON_TEXT
    assert page.input_value('input[name="client_id"]') == INITIAL_CLIENT_ID
    assert state.posts == []

    page.click("#scan-retry")
    page.wait_for_selector('#verdict [data-status="accepted"]', timeout=10_000)
    assert len(state.posts) == 1
    assert state.posts[0]["fields"]["client_id"] == INITIAL_CLIENT_ID
    assert state.posts[0]["fields"]["code"] == COUPON_TEXT
    assert page.input_value('input[name="client_id"]') != INITIAL_CLIENT_ID
    assert page.input_value("#id_code") == ""

    _assert_same_origin_only(log, origin)
    assert page.evaluate("window.__cspViolations") == []
    assert log.page_errors == []
    # The dropped request is the only expected console error.
    unexpected = [text for text in log.console_errors if "ERR_INTERNET_DISCONNECTED" not in text]
    assert unexpected == []
