"""/docs and /redoc work with no network: every file the pages load comes from the endpoint itself.

A real `driftline serve` on a loopback port, without a token (with DRIFTLINE_API_TOKEN set the docs,
their assets and /openapi.json need it too: test_fuzz_endpoint.py and test_serve_hardening.py). Headless
Chromium loads the pages with every other host unreachable and must render them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.test_serve import Server, start_server, stop_server

TITLE = "driftline — credit"
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")
REFERENCED = re.compile(r"""(?:src|href|spec-url)="([^"]+)"|\burl: '([^']+)'""")


@pytest.fixture(scope="module")
def server(projects) -> Iterator[Server]:
    srv = start_server(projects.reproduced(), "--poll", "0")
    yield srv
    stop_server(srv)


def referenced(page: str) -> list[str]:
    """The URLs a docs page loads: scripts, styles, the favicon and the OpenAPI document."""
    return sorted({a or b for a, b in REFERENCED.findall(page)})


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_everything_from_the_endpoint(server: Server, page: str) -> None:
    with server.client() as anonymous:
        html = anonymous.get(page)
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert not ABSOLUTE_URL.findall(html.text), f"the page names another host:\n{html.text}"
        urls = referenced(html.text)
        assert "/openapi.json" in urls and any(u.endswith(".js") for u in urls), urls
        for url in urls:
            assert url.startswith("/"), url
            answer = anonymous.get(url)
            assert answer.status_code == 200 and answer.content, f"{url}: {answer.status_code}"


def test_swagger_ui_assets_are_real_and_the_oauth2_redirect_is_served(server: Server) -> None:
    with server.client() as anonymous:
        script = anonymous.get("/docs/assets/swagger-ui-bundle.js")
        css = anonymous.get("/docs/assets/swagger-ui.css")
        redirect = anonymous.get("/docs/oauth2-redirect")
    assert "SwaggerUIBundle" in script.text and "javascript" in script.headers["content-type"]
    assert ".swagger-ui" in css.text and css.headers["content-type"].startswith("text/css")
    assert redirect.status_code == 200 and "oauth2" in redirect.text.lower()


def _render(browser, url: str, profile: Path) -> str:
    """The DOM after Chromium ran the page, with every host but this machine unreachable."""
    offline = ["--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
               "--virtual-time-budget=20000"]
    return browser.run([*offline, "--dump-dom", url], profile).stdout


def test_swagger_ui_renders_offline_in_a_browser(browser, server: Server, tmp_path: Path) -> None:
    dom = _render(browser, f"{server.url}/docs", tmp_path / "profile")
    assert 'class="swagger-ui"' in dom, dom[:2000]
    title = re.search(r'<div class="info">.*?<h1[^>]*>([^<]*)', dom, re.S)  # `.swagger-ui .info h1`
    assert title is not None and title.group(1).strip() == TITLE, dom[:4000]
    assert 'data-path="/v1/predict"' in dom and "Unable to render this definition" not in dom
    assert "CreditRecord" in dom  # the typed record, among the schemas


def test_redoc_renders_offline_in_a_browser(browser, server: Server, tmp_path: Path) -> None:
    dom = _render(browser, f"{server.url}/redoc", tmp_path / "profile")
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", dom, re.S)
    assert heading is not None and TITLE in heading.group(1), dom[:4000]
    assert "/v1/predict" in dom and "Something went wrong" not in dom
