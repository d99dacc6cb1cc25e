"""The web console in a real browser: Debian's chromium driven by Playwright (from PyPI, in the
virtualenv `.ci/deps` creates; no browser is downloaded). crates/pw-cli/tests/it/console.rs
starts the real server with a seeded fleet and runs this.

Environment: PW_URL, PW_ADMIN_TOKEN, PW_READONLY_TOKEN, PW_WINDOW_ID, PW_CVE, PW_BASELINE_ID
(a stored baseline with a promotion policy into it), PW_SCREENSHOTS
(a directory), PW_CHROMIUM (default /usr/bin/chromium). Prints `ok: NAME` per check and
`all console checks passed` at the end; any failure raises."""

import json
import os
import re
import urllib.request

from playwright.sync_api import expect, sync_playwright

URL = os.environ["PW_URL"].rstrip("/")
SHOTS = os.environ["PW_SCREENSHOTS"]
os.makedirs(SHOTS, exist_ok=True)


def ok(name):
    print("ok:", name, flush=True)


def shot(page, name):
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def sign_in(context, token):
    page = context.new_page()
    page.goto(f"{URL}/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("#token", token)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Fleet")
    return page


def api(method, path, token):
    request = urllib.request.Request(f"{URL}{path}", method=method,
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=os.environ.get("PW_CHROMIUM", "/usr/bin/chromium"),
                                args=["--no-sandbox"])
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    requested = []
    context.on("request", lambda request: requested.append(request.url))
    problems = []
    context.on("console", lambda message: problems.append(message.text)
               if message.type == "error" else None)

    # Sign in; the overview; a count opens exactly its list; a node; a patch's why.
    page = sign_in(context, os.environ["PW_ADMIN_TOKEN"])
    hostile = "<script>alert(1)</script>"
    assert hostile not in page.content(), "hostile values are escaped"
    expect(page.get_by_text(hostile)).to_be_visible()
    shot(page, "overview")
    link = page.locator("a[href='/nodes?state=non_compliant']")
    count = int(link.inner_text())
    link.click()
    expect(page.locator("h1")).to_have_text("Nodes")
    assert page.locator("table.nodes tbody tr").count() == count, page.content()
    shot(page, "nodes")
    page.locator("table.nodes tbody tr a").first.click()
    expect(page.locator("table.patches")).to_be_visible()
    why = page.locator("table.patches tbody tr").first.locator("td").last.inner_text()
    assert why.strip(), "every patch says why"
    shot(page, "node")
    ok("overview, a count's list, a node, a patch's why")

    # The fleet-wide answer for one CVE, from the search box in the header.
    page.fill("form.search input[name=id]", os.environ["PW_CVE"])
    page.press("form.search input[name=id]", "Enter")
    expect(page.locator("table.reference-rows")).to_be_visible()
    assert os.environ["PW_CVE"] in page.inner_text("p.asof")
    shot(page, "cve")
    ok("CVE search")

    # Run a window now and watch its execution change without reloading the page.
    page.goto(f"{URL}/windows")
    shot(page, "windows")
    window = os.environ["PW_WINDOW_ID"]
    page.click(f"a[href='/windows/{window}/run']")
    expect(page.locator("h1")).to_contain_text("now?")
    assert page.locator("table.run-preview tbody tr").count() == 3, page.content()
    shot(page, "run-preview")
    page.click("button.confirm")
    expect(page).to_have_url(re.compile(r"/executions/"))
    execution = page.url.rsplit("/", 1)[1]
    page.evaluate("window.__stayed = true")
    shot(page, "execution")
    api("POST", f"/api/v1/executions/{execution}/cancel", os.environ["PW_ADMIN_TOKEN"])
    expect(page.locator("strong.status")).to_have_text(re.compile("CANCELL"), timeout=20000)
    assert page.evaluate("window.__stayed === true"), "the page was reloaded"
    shot(page, "execution-cancelled")
    ok("run a window; its progress changes without a reload")

    # Baselines with their rules, exceptions and users; the audit log.
    page.goto(f"{URL}/baselines")
    expect(page.locator("section.baseline").first).to_be_visible()
    shot(page, "baselines")
    page.goto(f"{URL}/trends?critical_days=0")
    expect(page.locator("table.debt")).to_be_visible()
    shot(page, "trends")
    page.goto(f"{URL}/audit")
    expect(page.locator("table.audit")).to_contain_text("execution.cancel")
    shot(page, "audit")
    ok("baselines, trends and the audit log")

    # Promotion: what PRD will get from STG and when, and what the policy changed.
    page.goto(f"{URL}/promotions")
    expect(page.locator("section.promotion")).to_be_visible()
    expect(page.locator("table.pending")).to_contain_text("openssl")
    shot(page, "promotion")
    ok("promotion")

    # A baseline edit: the diff and each node's changes before anything is saved.
    baseline = os.environ["PW_BASELINE_ID"]
    page.goto(f"{URL}/baselines/{baseline}/edit")
    text = page.locator("textarea[name=toml]").input_value()
    page.fill("textarea[name=toml]", text.replace("approve_after_days = 31", "approve_after_days = 7"))
    page.click("button[value=preview]")
    expect(page.locator("pre.diff .diff-added")).to_contain_text("approve_after_days = 7")
    expect(page.locator("button[value=save]")).to_be_visible()
    shot(page, "baseline-edit")
    ok("a baseline edit's preview")

    # A POST without the CSRF token is refused.
    refused = page.request.post(f"{URL}/windows/{window}/run", form={})
    assert refused.status == 403, refused.status
    ok("a POST without the CSRF token is refused")

    # A read-only viewer sees no write controls, and its POSTs are refused.
    reader = browser.new_context()
    reader.on("request", lambda request: requested.append(request.url))
    page = sign_in(reader, os.environ["PW_READONLY_TOKEN"])
    page.goto(f"{URL}/windows")
    assert page.locator("text=Run now").count() == 0
    page.goto(f"{URL}/windows/{window}/run")
    assert page.locator("button.confirm").count() == 0, "no run button for read-only"
    csrf = page.locator("form.signout input[name=csrf]").get_attribute("value")
    refused = page.request.post(f"{URL}/windows/{window}/run", form={"csrf": csrf})
    assert refused.status == 403, refused.status
    ok("read-only: no write controls, POSTs refused")

    # Every request any page made went to the server under test.
    strays = [u for u in requested if not u.startswith(URL)]
    assert not strays, strays
    assert not [m for m in problems if "Content Security Policy" in m], problems
    ok(f"all {len(requested)} requests went to the server under test; no CSP violation")
    browser.close()

print("all console checks passed")
