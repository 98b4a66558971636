#!/usr/bin/env python3
"""What libhuptime.so exports and links (the 'symbols' test suite).

    check_symbols.py exports  LIBRARY MAPFILE   nm -D == the map's global:
    check_symbols.py needed   LIBRARY           DT_NEEDED: libc and ld.so only
    check_symbols.py versions LIBRARY           defined symbols unversioned
    check_symbols.py hooks    LIBRARY HOOKSDEF  every hooks.def entry exported

Exit status 0 on success, 1 with the differences on stderr otherwise.
NM and READELF in the environment name the tools (default: nm, readelf).
Standard library only.
"""

import fnmatch
import os
import re
import subprocess
import sys

# A preloaded library must add nothing but libc and the dynamic loader to
# the process it is loaded into.
ALLOWED_NEEDED = [
    re.compile(r"libc\.so\.6"),
    re.compile(r"ld-linux(-[\w.-]+)?\.so\.\d+"),
]
FORBIDDEN_HINTS = ("libstdc++", "libgcc_s", "libfmt", "libm.so")


def run(tool_var, default, *args):
    tool = os.environ.get(tool_var, default)
    result = subprocess.run([tool, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{tool} {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def fail(title, lines):
    print(title, file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)
    return 1


def map_globals(path):
    """Names and patterns in the global: sections of a version script."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"#[^\n]*", " ", text)
    if "extern" in text:
        sys.exit(f"{path}: extern \"C++\" blocks are not supported here")
    names = []
    for section in re.findall(r"global\s*:(.*?)(?=\blocal\s*:|\})", text,
                              flags=re.S):
        names += [n.strip() for n in section.split(";") if n.strip()]
    if not names:
        sys.exit(f"{path}: no global: section found")
    return names


def defined_dynamic(library):
    """Names nm -D --defined-only lists, without version suffixes."""
    names = set()
    for line in run("NM", "nm", "-D", "--defined-only", library).splitlines():
        fields = line.split()
        if len(fields) >= 3:
            names.add(fields[2])
    return names


def check_exports(library, mapfile):
    patterns = map_globals(mapfile)
    exported = {n.split("@")[0] for n in defined_dynamic(library)}
    extra = sorted(n for n in exported
                   if not any(fnmatch.fnmatchcase(n, p) for p in patterns))
    missing = sorted(p for p in patterns
                     if not any(fnmatch.fnmatchcase(n, p) for n in exported))
    status = 0
    if extra:
        status = fail(f"exported but not in {mapfile}:", extra)
    if missing:
        status = fail(f"in {mapfile} but not exported:", missing)
    if status == 0:
        print(f"{len(exported)} exported symbols match {mapfile}")
    return status


def check_needed(library):
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                        run("READELF", "readelf", "-d", "-W", library))
    bad = [n for n in needed
           if not any(p.fullmatch(n) for p in ALLOWED_NEEDED)]
    if bad:
        hints = [n for n in bad if n.startswith(FORBIDDEN_HINTS)]
        notes = [f"{n} (link it statically or header-only)" for n in hints]
        return fail("DT_NEEDED beyond libc and the loader:",
                    notes + [n for n in bad if n not in hints])
    if not any(ALLOWED_NEEDED[0].fullmatch(n) for n in needed):
        return fail("no DT_NEEDED libc.so.6; entries found:", needed or ["-"])
    print("DT_NEEDED:", ", ".join(needed))
    return 0


def check_versions(library):
    """Defined dynamic symbols must carry no version: an unversioned
    definition interposes every version a program may have linked."""
    out = run("READELF", "readelf", "--dyn-syms", "-W", library)
    defined, versioned = [], []
    for line in out.splitlines():
        fields = line.split()
        # Num: Value Size Type Bind Vis Ndx Name [(version index)]
        if len(fields) < 8 or not fields[0].rstrip(":").isdigit():
            continue
        if fields[6] == "UND" or fields[4] == "LOCAL":
            continue
        defined.append(fields[7])
        if "@" in fields[7]:
            versioned.append(fields[7])
    status = 0
    if not defined:
        status = fail("no defined dynamic symbols found in", [library])
    if versioned:
        status = fail("versioned definitions:", versioned)
    verdefs = run("READELF", "readelf", "-V", "-W", library)
    if ".gnu.version_d" in verdefs:
        status = fail("the library defines symbol versions (.gnu.version_d):",
                      [line for line in verdefs.splitlines()
                       if "Name:" in line])
    if status == 0:
        print(f"{len(defined)} defined symbols, none versioned")
    return status


def check_hooks(library, hooks_def):
    """Every hook in the X-macro table is exported: a hook left out of the
    map would be built but never called."""
    with open(hooks_def, encoding="utf-8") as f:
        hooks = re.findall(r"^HUPTIME_HOOK\(\s*[^,]+,\s*(\w+)\s*,", f.read(),
                           flags=re.M)
    if not hooks:
        sys.exit(f"{hooks_def}: no HUPTIME_HOOK lines found")
    exported = {n.split("@")[0] for n in defined_dynamic(library)}
    missing = sorted(set(hooks) - exported)
    if missing:
        return fail(f"hooked in {hooks_def} but not exported:", missing)
    print(f"all {len(hooks)} hooks of {hooks_def} are exported")
    return 0


def main(argv):
    checks = {
        "exports": (check_exports, 2),
        "needed": (check_needed, 1),
        "versions": (check_versions, 1),
        "hooks": (check_hooks, 2),
    }
    if len(argv) < 2 or argv[1] not in checks:
        sys.exit(__doc__)
    check, nargs = checks[argv[1]]
    if len(argv) != 2 + nargs:
        sys.exit(__doc__)
    return check(*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
