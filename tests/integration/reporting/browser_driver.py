"""A headless Chromium driven by Playwright in a process of its own, taking one JSON command
per line on stdin and answering one JSON line on stdout.

Playwright's sync API cannot run inside the test process: eventlet's monkey-patching (which
nameko's containers need) leaves its driver threads unjoinable at exit. The test drives this
process instead and keeps every assertion on its side.

Commands: {"goto": url}, {"text": selector}, {"attr": [selector, name]},
{"count": selector}, {"click": selector}, {"wait": js_expression, "timeout": ms},
{"attrs": [selector, name]} (the attribute of every match), {"fill": [selector, value]},
{"cookie": {"name": ..., "value": ..., "url": ...}} (a cookie for the browser to send, e.g. a
session a test signed in elsewhere), {"viewport": [width, height]}, {"axe": null} (axe-core's
serious and critical violations of the page, when tests/browser holds axe-core).
"""
import json
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

AXE = Path(__file__).resolve().parents[2] / "browser" / "node_modules" / "axe-core" / "axe.min.js"


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
    """axe-core on the page as it is, injected through the DevTools protocol (the page's CSP
    admits no script of ours): [{id, impact, help, targets}] of the serious and critical."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    return page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.filter(v => ['serious', 'critical'].includes(v.impact))
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
    }""")


def main(executable):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page()
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            command = json.loads(line)
            try:
                if "goto" in command:
                    page.goto(command["goto"])
                    result = page.url
                elif "text" in command:
                    result = page.locator(command["text"]).first.inner_text()
                elif "attr" in command:
                    result = page.locator(command["attr"][0]).first.get_attribute(
                        command["attr"][1])
                elif "attrs" in command:
                    selector, name = command["attrs"]
                    result = [el.get_attribute(name) for el in
                              page.locator(selector).all()]
                elif "count" in command:
                    result = page.locator(command["count"]).count()
                elif "cookie" in command:
                    page.context.add_cookies([{"httpOnly": True, **command["cookie"]}])
                    result = True
                elif "viewport" in command:
                    width, height = command["viewport"]
                    page.set_viewport_size({"width": width, "height": height})
                    result = True
                elif "axe" in command:
                    result = axe_violations(page)
                elif "fill" in command:
                    page.fill(*command["fill"])
                    result = True
                elif "click" in command:
                    page.click(command["click"])
                    result = True
                elif "wait" in command:
                    result = wait_for(page, command["wait"], command.get("timeout", 10000))
                else:
                    raise ValueError(f"unknown command {command}")
                print(json.dumps({"ok": result}), flush=True)
            except Exception as exc:  # reported to the test, which fails with it
                print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1])
