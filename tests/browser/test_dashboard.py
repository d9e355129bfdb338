#!/usr/bin/python3
"""The dashboard in a real browser (Debian's chromium and chromium-driver, python3-selenium),
against a real jobsd: sign in, the jobs, a trigger and its live log to success, pause and resume,
a queue's depth changing, a viewer refused, and a screenshot of each page, light and dark, in SHOTS.

  test_dashboard.py --url http://127.0.0.1:PORT --shots DIR --release FILE --hello-go FILE

The tokens come from the environment: JOBS_ADMIN_TOKEN, JOBS_OPERATOR_TOKEN, JOBS_VIEWER_TOKEN.
The jobsd it talks to has the jobs tests/integration/test_browser.sh makes:
  hello    prints "hello from jobs", waits until the file --hello-go names exists, then prints
           "goodbye from jobs" and succeeds (so that its log is seen live, then ending);
  blocker  concurrency: allow, in the zone Asia/Tokyo whose queue limit is 1, and runs until the
           file FILE (--release) exists;
and more than 50 jobs in all (the list has two pages), hello and blocker among the first 50 by id.
Prints "ok - ..." or "not ok - ..." for each check; exits 1 when one failed.
"""

import argparse
import base64
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 30  # seconds: the most any step waits for the page (the jobs themselves take under 1 s)
failures = 0


def check(ok, what, detail=""):
    global failures
    print(("ok - " if ok else "not ok - ") + what + ("" if ok or not detail else f": {detail}"), flush=True)
    if not ok:
        failures += 1
    return ok


class Dashboard:
    def __init__(self, url, shots):
        self.url = url.rstrip("/")
        self.shots = shots
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                    "--disable-gpu", "--no-first-run", "--lang=en-GB"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        self.driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                                    {"behavior": "allow", "downloadPath": str(shots)})
        self.console = []

    def close(self):
        self.driver.quit()

    def go(self, hash_):
        self.driver.get(f"{self.url}/#{hash_}")

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait(self, what, condition, seconds=WAIT):
        """Polls condition(driver) until it is true (then True) or seconds pass (then a failed check)."""
        try:
            # The pages re-render what changed: an element found a moment ago may be gone.
            WebDriverWait(self.driver, seconds, poll_frequency=0.1,
                          ignored_exceptions=[StaleElementReferenceException]).until(condition)
            return check(True, what)
        except TimeoutException:
            problem = self.all("#problem")
            shown = problem[0].text if problem and problem[0].is_displayed() else ""
            return check(False, what, f"not within {seconds}s" + (f"; the page says: {shown}" if shown else ""))

    def text(self, css):
        found = self.all(css)
        return found[0].text if found else ""

    def scheme(self, value):
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                                    {"features": [{"name": "prefers-color-scheme", "value": value}]})

    def background(self):
        return self.driver.execute_script("return getComputedStyle(document.body).backgroundColor")

    def screenshots(self, name):
        """name-light.png and name-dark.png; checks that the page follows prefers-color-scheme."""
        colours = {}
        for value in ("light", "dark"):
            self.scheme(value)
            colours[value] = self.background()
            # The whole page (at most 4000 px tall), not only the window's part of it.
            page = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": page["width"], "height": min(page["height"], 4000), "scale": 1}})
            (self.shots / f"dashboard-{name}-{value}.png").write_bytes(base64.b64decode(shot["data"]))
        self.scheme("light")
        check(colours["light"] != colours["dark"], f"{name}: light and dark differ ({colours})")

    def drain_console(self):
        self.console += self.driver.get_log("browser")

    def sign_in(self, token):
        self.go("/jobs")
        self.wait("the sign-in form", lambda d: self.all("#token"))
        active = self.driver.switch_to.active_element
        check(active.get_attribute("id") == "token", "the token field has the focus (keyboard sign-in)")
        active.send_keys(token, Keys.ENTER)
        return self.wait("signed in: the jobs list", lambda d: self.all("table.jobs tbody tr"))

    def sign_out(self):
        self.find("#signout").click()
        self.wait("signed out: the sign-in form", lambda d: self.all("#token"))
        check(self.driver.execute_script("return sessionStorage.length") == 0, "signing out forgets the token")

    def job_row(self, job):
        for tr in self.all("table.jobs tbody tr"):
            if tr.find_elements(By.LINK_TEXT, job):
                return tr
        return None


def api(url, token, method, path, body=None):
    request = urllib.request.Request(f"{url}/api/v2{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--shots", required=True, type=Path)
    parser.add_argument("--release", required=True, type=Path)
    parser.add_argument("--hello-go", required=True, type=Path)
    args = parser.parse_args()
    tokens = {role: os.environ[f"JOBS_{role.upper()}_TOKEN"] for role in ("admin", "operator", "viewer")}
    args.shots.mkdir(parents=True, exist_ok=True)
    url = args.url.rstrip("/")

    with urllib.request.urlopen(f"{url}/", timeout=10) as r:
        csp = r.headers.get("Content-Security-Policy", "")
        check("script-src 'self'" in csp and "'unsafe-inline'" not in csp, "/ is served with a strict CSP", csp)

    b = Dashboard(url, args.shots)
    try:
        run(b, url, tokens, args.release, args.hello_go)
        b.drain_console()
    finally:
        b.close()
    bad = [e["message"] for e in b.console
           if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
    check(not bad, "no CSP violation and no uncaught error in the console", "; ".join(bad))
    print(f"screenshots in {args.shots}")
    return 1 if failures else 0


def run(b, url, tokens, release, hello_go):
    d = b.driver
    # Sign-in: a wrong token is refused with the API's text; the operator's signs in.
    b.go("/jobs")
    b.wait("the sign-in form", lambda _: b.all("#token"))
    b.screenshots("signin")
    b.find("#token").send_keys("jobs_wrong", Keys.ENTER)
    b.wait("a wrong token is refused with the API's message", lambda _: b.find("#problem").is_displayed()
           and b.find("#problem").text.strip())
    b.sign_in(tokens["operator"])

    # Jobs: both test jobs listed with their schedule and buttons; the search narrows on the server.
    check(b.job_row("hello") is not None and b.job_row("blocker") is not None, "the jobs are listed")
    hello = b.job_row("hello")
    check(hello is not None and hello.find_elements(By.CSS_SELECTOR, "button[data-action=trigger]"),
          "an operator sees the trigger button")
    b.screenshots("jobs")
    # Pages of 50 from the server: 63 jobs make two.
    counted = re.compile(r"Jobs 1–50 of (\d+)")
    total = int(counted.match(b.text("main [role=status]")).group(1)) if counted.match(b.text("main [role=status]")) else 0
    check(total > 50, "the first page shows jobs 1-50 of them all", b.text("main [role=status]"))
    b.find("nav.pager button:last-child").click()
    b.wait("Next shows the second page", lambda _: b.text("main [role=status]").startswith(f"Jobs 51–{total} of {total}")
           and len(b.all("table.jobs tbody tr")) == total - 50)
    # The page's place is in the hash: Back, Forward and a reload keep the numbers right.
    b.driver.back()
    b.wait("Back shows the first page, numbered 1-50", lambda _: b.text("main [role=status]").startswith("Jobs 1–50 of")
           and len(b.all("table.jobs tbody tr")) == 50)
    b.driver.forward()
    b.wait("Forward shows the second page, numbered from 51",
           lambda _: b.text("main [role=status]").startswith(f"Jobs 51–{total} of {total}"))
    b.driver.refresh()
    b.wait("a reload keeps the second page and its numbers",
           lambda _: b.text("main [role=status]").startswith(f"Jobs 51–{total} of {total}")
           and len(b.all("table.jobs tbody tr")) == total - 50)
    b.find("nav.pager button:first-child").click()
    b.wait("Previous shows the first page again", lambda _: b.text("main [role=status]").startswith("Jobs 1–50 of")
           and len(b.all("table.jobs tbody tr")) == 50)
    b.go("/job/%E0")
    b.wait("a hash that is not valid percent-encoding: not found, not a blank page",
           lambda _: b.text("main h1") == "Not found")
    b.go("/jobs")
    b.wait("the status filter offers skipped", lambda _: b.all("#status option[value=skipped]"))
    search = b.find("#match")
    search.clear()
    search.send_keys("hell", Keys.ENTER)
    b.wait("the search shows hello alone", lambda _: len(b.all("table.jobs tbody tr")) == 1 and b.job_row("hello"))

    # A job: its steps, its next 10 fires; trigger it and watch its live log end in success.
    b.find("table.jobs").find_element(By.LINK_TEXT, "hello").click()
    b.wait("the job page", lambda _: b.text("h1") == "hello" and len(b.all("table.fires tbody tr")) == 10)
    b.find("button[data-action=trigger]").click()
    b.wait("trigger opens the execution", lambda _: "#/execution/" in d.current_url and b.all("#log"))
    b.wait("the live log shows the running job's first line", lambda _: "hello from jobs" in b.text("#log")
           and b.text("#log-state") == "live" and b.text("#execution-status") == "running")
    hello_go.touch()
    b.wait("the line it prints next arrives live", lambda _: "goodbye from jobs" in b.text("#log"))
    b.wait("the execution ends in success", lambda _: b.text("#execution-status") == "success"
           and b.text("#log-state") == "ended")
    check(b.all("svg.timeline rect"), "the steps' timeline is drawn")
    b.find("#log-search").send_keys("hello from")
    b.wait("the log search marks the lines and counts them", lambda _: b.all("#log mark")
           and re.fullmatch(r"[1-9]\d* of \d+ lines", b.text("#log-found")))
    execution = d.current_url.split("#/execution/")[1].split("?")[0]
    b.find("a[download]").click()
    log_file = b.shots / f"{execution}.log"
    b.wait("the log downloads", lambda _: log_file.exists() and "hello from jobs" in log_file.read_text())
    if log_file.exists():
        log_file.unlink()
    b.screenshots("execution")
    b.go("/job/hello")
    b.wait("the history lists the run, with the duration chart",
           lambda _: b.all(f"table.history a[href='#/execution/{execution}']") and b.all("svg.chart rect"))
    b.screenshots("job")

    # Pause and resume from the list.
    b.go("/jobs?match=hello")
    b.wait("the list of hello, not paused", lambda _: (r := b.job_row("hello"))
           and r.find_elements(By.CSS_SELECTOR, "button[data-action=pause]"))
    b.job_row("hello").find_element(By.CSS_SELECTOR, "button[data-action=pause]").click()
    b.wait("pause: the job shows paused and a resume button",
           lambda _: (r := b.job_row("hello")) and r.find_elements(By.CSS_SELECTOR, ".badge.paused")
           and r.find_elements(By.CSS_SELECTOR, "button[data-action=resume]"))
    status, listed = api(url, tokens["viewer"], "GET", "/jobs?match=hello")
    check(status == 200 and listed["jobs"][0]["paused"] is not None, "jobsd has the job paused")
    b.job_row("hello").find_element(By.CSS_SELECTOR, "button[data-action=resume]").click()
    b.wait("resume: the job is no longer paused",
           lambda _: (r := b.job_row("hello")) and not r.find_elements(By.CSS_SELECTOR, ".badge.paused")
           and r.find_elements(By.CSS_SELECTOR, "button[data-action=pause]"))
    status, listed = api(url, tokens["viewer"], "GET", "/jobs?match=hello")
    check(status == 200 and listed["jobs"][0]["paused"] is None, "jobsd has the job resumed")

    # Queues: two runs of blocker in a zone whose limit is 1, one waits; the page follows live.
    b.go("/queues")
    depth = "#queues [data-depth='Asia/Tokyo']"
    b.wait("the queues page shows Asia/Tokyo empty", lambda _: b.text(depth) == "0")
    for n in (1, 2):
        status, body = api(url, tokens["operator"], "POST", "/jobs/blocker/trigger", {})
        check(status == 200, f"run {n} of blocker triggered", body)
    b.wait("the page shows a depth of 1 (no reload)", lambda _: b.text(depth) == "1")
    b.screenshots("queues")
    # A third run, from the job's page: it waits in the queue, and the page says so until it runs.
    b.go("/job/blocker")
    b.wait("blocker's page", lambda _: b.all("button[data-action=trigger]"))
    b.find("button[data-action=trigger]").click()
    b.wait("a queued run's page says it is queued", lambda _: "queued" in b.text("#queued").lower())
    b.screenshots("execution-queued")
    release.touch()
    b.wait("once it leaves the queue it runs and ends in success",
           lambda _: b.text("#execution-status") == "success" and b.text("#log-state") == "ended")
    b.go("/queues")
    b.wait("the depth goes back to 0 once blocker's runs end", lambda _: b.text(depth) == "0")

    # The playground: the engine's fires with DST notes, and the parser's message for an error.
    b.go("/playground")
    b.wait("the playground", lambda _: b.all("#expr"))
    b.find("#expr").clear()
    b.find("#expr").send_keys("30 2 * 3 0")
    b.find("#tz").clear()
    b.find("#tz").send_keys("Europe/Paris", Keys.ENTER)
    b.wait("10 fires, one with a DST note", lambda _: len(b.all("#fires table.fires tbody tr")) == 10
           and "DST" in b.text("#fires .dst"))
    b.screenshots("playground")
    b.find("#expr").clear()
    b.find("#expr").send_keys("61 * * * *", Keys.ENTER)
    b.wait("a bad expression shows the parser's message", lambda _: b.text("#fires .problem"))
    b.drain_console()

    # Audit: the admin sees who did what (the operator's trigger and pause).
    b.sign_out()
    b.sign_in(tokens["admin"])
    b.go("/audit")
    b.wait("the audit lists the operator's pause and trigger",
           lambda _: any("pause" in r.text for r in b.all("table.audit tbody tr"))
           and any("trigger" in r.text for r in b.all("table.audit tbody tr")))
    b.screenshots("audit")
    b.sign_out()

    # A viewer: no buttons; the audit refused with jobsd's message; a trigger refused by jobsd.
    b.sign_in(tokens["viewer"])
    check(not b.all("button[data-action]"), "a viewer sees no action button")
    b.go("/audit")
    b.wait("the audit is refused to a viewer, with the API's message", lambda _: b.text("#refused"))
    b.screenshots("audit-viewer")
    status, body = api(url, tokens["viewer"], "POST", "/jobs/hello/trigger", {})
    check(status == 403 and body.get("detail"), "jobsd refuses a viewer's trigger (403 with a detail)", body)

    # Phone width: the jobs as cards, nothing wider than the screen.
    d.set_window_size(375, 800)
    b.go("/jobs")
    b.wait("the jobs at 375 px", lambda _: b.job_row("hello"))
    width = d.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    check(width[0] <= width[1], f"nothing wider than the window at 375 px (page {width[0]}, window {width[1]})")
    check(b.find("#signout").is_displayed(), "sign-out reachable at 375 px")
    b.screenshots("jobs-375")
    d.set_window_size(1280, 900)


if __name__ == "__main__":
    sys.exit(main())
