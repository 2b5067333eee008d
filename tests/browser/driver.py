"""A headless Chromium driven by Playwright in a process of its own, taking one JSON command
per line on stdin and answering one JSON line on stdout (``Browser`` below runs it).

Playwright's sync API cannot run inside the test process: eventlet's monkey-patching (which
nameko's containers need) leaves its driver threads unjoinable at exit. The tests drive this
process instead and keep every assertion on their side.

Commands (one key each, plus ``timeout`` for wait): goto (url), url, text (selector), texts
(selector: every match), attr ([selector, name]), attrs ([selector, name]: of every match),
count (selector), fill ([selector, value]), select ([selector, value]), check (selector),
click (selector; no navigation awaited: a button that changes the page in place), follow
(selector of a link or submit button: waits for the page it leads to, redirects included),
press ([selector, key]), viewport ([width, height]), cookie ({name, value, url}: HttpOnly),
fresh (a new browser context: no cookies, as another person), screenshot (path: the full
page), axe (null: axe-core's violations of the page, as [{id, impact, help, targets}]), wait
(a JS expression, polled), html (the page's HTML).
"""
import json
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"


def wait_for(page, expression, timeout_ms):
    """Poll ``expression`` until it is truthy. Not page.wait_for_function: that evaluates its
    predicate with eval() inside the page, which the page's Content-Security-Policy refuses
    (as it should); page.evaluate runs through the DevTools protocol instead."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expression!r} still false after {timeout_ms} ms")
        page.wait_for_timeout(100)
    return True


def axe_violations(page):
    """axe-core run on the page as it is, injected through the DevTools protocol (the page's
    CSP, rightly, admits no script of ours)."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
    }""")
    return found


class Session:
    def __init__(self, browser):
        self.browser = browser
        self.viewport = {"width": 1280, "height": 900}
        self.context = None
        self.page = None
        self.fresh()

    def fresh(self):
        if self.context:
            self.context.close()
        self.context = self.browser.new_context(viewport=self.viewport, locale="vi-VN")
        self.page = self.context.new_page()
        self.page.set_default_timeout(20000)
        return True

    def run(self, command):
        name = next(key for key in command if key != "timeout")
        arg = command[name]
        page = self.page
        if name == "goto":
            page.goto(arg)
            return page.url
        if name == "url":
            return page.url
        if name == "text":
            return page.locator(arg).first.inner_text()
        if name == "texts":
            return [" ".join(t.split()) for t in page.locator(arg).all_inner_texts()]
        if name == "attr":
            return page.locator(arg[0]).first.get_attribute(arg[1])
        if name == "attrs":
            return [el.get_attribute(arg[1]) for el in page.locator(arg[0]).all()]
        if name == "cookie":
            self.context.add_cookies([{"httpOnly": True, **arg}])
            return True
        if name == "count":
            return page.locator(arg).count()
        if name == "fill":
            page.fill(*arg)
            return True
        if name == "select":
            page.select_option(arg[0], arg[1])
            return True
        if name == "check":
            page.check(arg)
            return True
        if name == "click":
            page.click(arg)
            return True
        if name == "follow":
            with page.expect_navigation():
                page.click(arg)
            page.wait_for_load_state()
            return page.url
        if name == "press":
            page.press(*arg)
            page.wait_for_load_state()
            return page.url
        if name == "viewport":
            self.viewport = {"width": arg[0], "height": arg[1]}
            page.set_viewport_size(self.viewport)
            return True
        if name == "fresh":
            return self.fresh()
        if name == "screenshot":
            Path(arg).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=arg, full_page=True)
            return arg
        if name == "axe":
            return axe_violations(page)
        if name == "wait":
            return wait_for(page, arg, command.get("timeout", 15000))
        if name == "html":
            return page.content()
        raise ValueError(f"unknown command {command}")


def main(executable):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        session = Session(browser)
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            try:
                result = session.run(json.loads(line))
                print(json.dumps({"ok": result}), flush=True)
            except Exception as exc:  # reported to the test, which fails with it
                print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1])
