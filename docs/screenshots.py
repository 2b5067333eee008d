"""Take the screenshots of the staff guide (docs/huong-dan-can-bo.md) from a running system.

    bin/up && .venv/bin/cdht seed demo
    .venv/bin/python docs/screenshots.py [--url http://127.0.0.1:8003] [--year 2026]

It opens reporting's dashboard in headless Chromium (Playwright, with Debian's
/usr/bin/chromium: ``apt-get install chromium``) and writes docs/img/*.png: the login box,
the province overview, the communes sorted by gap, the review of the period, a commune
after drill-down, and the English view. Tokens are minted with the local key (``cdht token``), so no secret is typed.
"""
import argparse
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
LOADED = "document.body.dataset.loaded === '1'"


def token(role, unit=None, subject="huong-dan"):
    args = [sys.executable, "-m", "cdht_tools", "token", "--role", role, "--subject", subject]
    if unit:
        args += ["--unit", unit]
    return subprocess.run(args, cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip().splitlines()[-1]


def wait_until(page, expression, timeout_ms=15000):
    """Poll ``expression`` through DevTools until it is truthy (page.wait_for_function would
    eval() it inside the page, which the dashboard's Content-Security-Policy refuses)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expression!r} still false after {timeout_ms} ms")
        page.wait_for_timeout(100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8003", help="reporting's base URL")
    parser.add_argument("--year", type=int, default=date.today().year)
    parser.add_argument("--province", default="AG")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium,
                                             args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        base = f"{args.url}/dashboard?unit={args.province}&year={args.year}"

        def shot(name, full_page=False):
            path = args.out / f"{name}.png"
            page.screenshot(path=str(path), full_page=full_page)
            print(f"wrote {path} ({path.stat().st_size:,} bytes)")

        page.goto(base)  # no token yet: the page asks for one
        wait_until(page, "!document.getElementById('login').hidden")
        shot("dang-nhap")

        page.fill("#token", token("province_staff", args.province))  # as a person pastes it
        page.click("#login-button")
        wait_until(page, LOADED)
        page.wait_for_timeout(500)  # the charts' first paint
        shot("tong-quan-tinh")
        page.locator("#children").scroll_into_view_if_needed()
        shot("xa-theo-khoang-cach")

        first = page.locator("#children tr[data-unit]").first
        unit = first.get_attribute("data-unit")
        page.locator("#review").scroll_into_view_if_needed()
        shot("so-ket-giai-doan")
        first.click()  # drill down to the commune with the largest gap
        wait_until(page,  # the code beside the name, or the code alone
                   "(document.querySelector('[data-testid=unit-code]').textContent || "
                   f"document.querySelector('[data-testid=unit]').textContent)"
                   f".includes({unit!r})")
        wait_until(page, LOADED)
        page.wait_for_timeout(500)
        page.evaluate("window.scrollTo(0, 0)")
        shot("chi-tiet-xa")

        page.click("[data-testid=lang]")
        wait_until(page, "document.getElementById('cards').innerText"
                   ".includes('Learning Citizen')")
        page.evaluate("window.scrollTo(0, 0)")
        shot("tieng-anh")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
