"""A headless Chromium driven by Playwright in a process of its own, taking one JSON command
per line on stdin and answering one JSON line on stdout.

Playwright's sync API cannot run inside the test process: eventlet's monkey-patching (which
nameko's containers need) leaves its driver threads unjoinable at exit. The test drives this
process instead and keeps every assertion on its side.

Commands: {"goto": url}, {"text": selector}, {"attr": [selector, name]},
{"count": selector}, {"click": selector}, {"wait": js_expression, "timeout": ms},
{"attrs": [selector, name]} (the attribute of every match), {"fill": [selector, value]}.
"""
import json
import sys

from playwright.sync_api import sync_playwright


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
                elif "fill" in command:
                    page.fill(*command["fill"])
                    result = True
                elif "click" in command:
                    page.click(command["click"])
                    result = True
                elif "wait" in command:
                    page.wait_for_function(command["wait"],
                                           timeout=command.get("timeout", 10000))
                    result = True
                else:
                    raise ValueError(f"unknown command {command}")
                print(json.dumps({"ok": result}), flush=True)
            except Exception as exc:  # reported to the test, which fails with it
                print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1])
