"""Benchmark of verify.html in headless Chromium (run by hand; results in docs/benchmarks.md).

    .venv/bin/python -m bench.browser_verify_bench [--entries 100000] [--content-mib 1024]

Writes two revised-format bundles to bench/out/ (made by tests/webverify/bundles.py):
one with `--entries` custody entries, one whose handset content is `--content-mib` MiB,
stored uncompressed as the exporter stores evidence. Each is verified in verify.html
opened from file:// in Debian's Chromium; the script prints the time from the click to
the verdict, and the renderer's memory: the JS heap (CDP Performance.getMetrics) and the
resident set of the renderer processes (/proc), sampled every 50 ms, as the peak above
the level before the click.
"""

from __future__ import annotations

import argparse
import os
import platform
import threading
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from tests.webverify import bundles
from tests.webverify.bundles import NL_INV, PHONE, Bundle, Log
from tests.webverify.conftest import CHROMIUM, CHROMIUM_ARGS, VERIFY_HTML

OUT = Path(__file__).resolve().parent / "out"
DONE = ", ".join(f'#verdict[data-verdict="{v}"]' for v in ("pass", "fail", "error"))


def many_entries(count: int) -> Bundle:
    def extra(log: Log) -> None:
        for _ in range(count - 25):
            log.add(NL_INV, "exhibit.accessed", PHONE, {"purpose": "review", "range": None})

    return Bundle(extra=extra)


def big_content(mebibytes: int) -> Bundle:
    block = bytes(range(256)) * 4096  # 1 MiB, not all one byte
    content = block * mebibytes
    return Bundle(content={PHONE: content}, disclosed=(PHONE,), phone=content)


def renderer_rss_kib() -> int:
    """Resident set of every Chromium renderer process (the tab), from /proc."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"--type=renderer" not in cmdline:
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def measure(browser: Any, bundle: Path) -> dict[str, Any]:
    page = browser.new_page()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")

    def heap() -> int:
        metrics = cdp.send("Performance.getMetrics")["metrics"]
        return int(next(m["value"] for m in metrics if m["name"] == "JSHeapUsedSize"))

    page.goto(VERIFY_HTML.as_uri())
    page.set_input_files("#bundle", str(bundle))
    base_rss, base_heap = renderer_rss_kib(), heap()
    peak = {"rss": base_rss, "heap": base_heap}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["rss"] = max(peak["rss"], renderer_rss_kib())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    page.click("#verify")
    while page.query_selector(DONE) is None:
        peak["heap"] = max(peak["heap"], heap())
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    verdict = page.get_attribute("#verdict", "data-verdict")
    page.close()
    return {
        "verdict": verdict,
        "seconds": round(elapsed, 2),
        "rss_growth_mib": round((peak["rss"] - base_rss) / 1024, 1),
        "heap_growth_mib": round((peak["heap"] - base_heap) / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--content-mib", type=int, default=1024)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    runs = {
        f"{args.entries} entries": (OUT / "bench-entries.zip", lambda: many_entries(args.entries)),
        f"{args.content_mib} MiB content": (
            OUT / "bench-content.zip",
            lambda: big_content(args.content_mib),
        ),
    }
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        print(f"chromium {browser.version}")
        for label, (path, make) in runs.items():
            started = time.perf_counter()
            path.write_bytes(bundles.render(make()))
            made = time.perf_counter() - started
            size = path.stat().st_size / 2**20
            print(f"{label}: bundle {size:.1f} MiB, written in {made:.1f} s")
            for run in range(2):
                print(f"  run {run + 1}: {measure(browser, path)}")
        browser.close()


if __name__ == "__main__":
    main()
