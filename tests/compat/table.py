#!/usr/bin/env python3
"""Renders the compat suite's results as the README's compatibility table.

Each compat test (tests/compat/meson.build) writes NAME.json into
BUILDDIR/tests/compat/, and each intercept test (static and Go programs
under seccomp interception, tests/intercept/meson.build) into
BUILDDIR/tests/intercept/. This script reads them, in the suites' order, and
prints a Markdown table; with --update README.md it replaces the text
between the markers

    <!-- compat-table:begin -->
    <!-- compat-table:end -->

in that file instead. Usage, after `meson test -C BUILDDIR --suite compat --suite intercept`:

    tests/compat/table.py BUILDDIR [--update README.md] [--note TEXT]
"""
import argparse
import json
import pathlib
import platform
import re
import sys

BEGIN = "<!-- compat-table:begin -->"
END = "<!-- compat-table:end -->"
SUITES = ("compat", "intercept")


def suite_order(builddir):
    """Test names in the order meson lists them (the meson.build order)."""
    info = builddir / "meson-info" / "intro-tests.json"
    try:
        tests = json.loads(info.read_text())
    except OSError:
        return []
    return [t["name"] for t in tests
            if any(suite.split(":")[-1] in SUITES
                   for suite in t.get("suite", []))]


def load_results(builddir):
    results = {}
    for suite in SUITES:
        for path in sorted((builddir / "tests" / suite).glob("*.json")):
            try:
                result = json.loads(path.read_text())
            except (OSError, ValueError) as error:
                sys.exit(f"{path}: {error}")
            if suite == "intercept":
                result["mode"] += " (seccomp)"
            results[result["name"]] = result
    order = suite_order(builddir)
    ranked = sorted(results.values(),
                    key=lambda r: (order.index(r["name"])
                                   if r["name"] in order else len(order),
                                   r["name"]))
    return ranked


def row(result):
    title = result.get("title") or result["name"].rsplit("-", 1)[0]
    if result["result"] == "skip":
        return f"| {title} | {result['mode']} | skipped: not installed | | | |"
    verdict = "" if result["result"] == "pass" else " **(failed)**"
    return (f"| {title} | {result['mode']}{verdict} | {result['reloads']} | "
            f"{result['requests']} | {result['failed']} | "
            f"{result['max_ms']:.0f} ms |")


def render(results, note):
    lines = [
        "| Server | Mode | Restarts | Requests | Failed | Worst latency |",
        "|--------|------|---------:|---------:|-------:|--------------:|",
    ]
    lines += [row(r) for r in results]
    lines.append("")
    lines.append(f"Measured by `meson test --suite compat --suite intercept` on "
                 f"{platform.system()} {platform.release()}, "
                 f"{len(results)} cases; worst latency is the slowest request "
                 "of the whole run, restarts included." +
                 (f" {note}" if note else ""))
    return "\n".join(lines)


def update(readme, table):
    text = readme.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        sys.exit(f"{readme}: no {BEGIN} ... {END} section")
    text = pattern.sub(lambda _: f"{BEGIN}\n{table}\n{END}", text)
    readme.write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("builddir", type=pathlib.Path)
    parser.add_argument("--update", type=pathlib.Path, metavar="README",
                        help="replace the marked section of README")
    parser.add_argument("--note", default="",
                        help="a sentence to add below the table (where and "
                             "under what load it was measured)")
    args = parser.parse_args()
    results = load_results(args.builddir)
    if not results:
        sys.exit(f"no results in {args.builddir}/tests/compat: run "
                 f"meson test -C {args.builddir} --suite compat first")
    table = render(results, args.note)
    if args.update:
        update(args.update, table)
    else:
        print(table)


if __name__ == "__main__":
    main()
