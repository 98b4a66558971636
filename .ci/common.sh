# Shared by run-tests, run-demo and .ci/run (sourced, not executed): the
# packages huptime needs on Debian 12, configuring and building build/, and
# the "N passed, N failed" summary of a meson test run.
#
# The build directory is always build/ at the top of the checkout, configured
# as CI configures it: -Dwerror=true --buildtype=debugoptimized.

HUPTIME_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HUPTIME_BUILD="$HUPTIME_ROOT/build"
HUPTIME_SETUP_ARGS=(-Dwerror=true --buildtype=debugoptimized)

# Compiler and build: g++ meson ninja-build pkg-config; libraries: libfmt-dev
# (header-only use), catch2 (unit tests); integration tests: python3 (its
# http.server is a server under test; the demo driver), nodejs (a node http
# server under test), curl procps file binutils (the tests' and the symbol
# check's tools: curl, ps/pgrep, file, nm/readelf); the supervise suite:
# supervisor and runit (real supervisors running huptime --master), systemd
# (systemd-socket-activate; nothing is started by installing it in CI); the
# compat suite's real servers (tests/compat: each is restarted under load,
# and its tests skip when it is missing): nginx-light (nginx, master +
# workers), redis-server (forks for BGSAVE), gunicorn (pre-fork WSGI server;
# pulls in python3-gunicorn); the reliability suites (issue 6): clang-14 and
# libclang-rt-14-dev (libFuzzer and its sanitizer runtimes for tests/fuzz),
# clang-tidy-14 and cppcheck (tests/analysis), strace (nothing created in
# shared directories), util-linux (setpriv and prlimit: another user,
# RLIMIT_NOFILE); the intercept suite: caddy (a Go program, restarted
# through seccomp interception; its Debian package starts nothing here);
# the symbols suite's startup-window check: valgrind.
HUPTIME_PACKAGES=(g++ meson ninja-build pkg-config libfmt-dev catch2 python3
                  curl procps file binutils supervisor runit systemd
                  nginx-light redis-server gunicorn clang-14
                  libclang-rt-14-dev clang-tidy-14 cppcheck strace util-linux
                  caddy valgrind)

# The packages of HUPTIME_PACKAGES not installed, plus nodejs when there is
# no `node` at all (a newer node from elsewhere is fine).
huptime_missing_packages() {
  local pkg
  for pkg in "${HUPTIME_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null |
      grep -q '^install ok installed$' || echo "$pkg"
  done
  command -v node >/dev/null 2>&1 || echo nodejs
}

huptime_apt() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "need root (or sudo) to run: $*" >&2
    return 1
  fi
}

# Installs what is missing. With "always" (CI), runs apt-get even when
# nothing is missing, so that a broken archive shows up early.
huptime_install_deps() {
  local missing
  missing=$(huptime_missing_packages | tr '\n' ' ')
  if [ -z "${missing// /}" ] && [ "${1:-}" != always ]; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing packages: $missing(no apt-get: install them by hand)" >&2
    return 1
  fi
  echo "==> installing: ${missing:-nothing missing}"
  local install=(${missing})
  [ "${1:-}" = always ] && install=("${HUPTIME_PACKAGES[@]}" ${missing})
  huptime_apt apt-get update
  huptime_no_service_start huptime_apt env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${install[@]}"
}

# Runs "$@" with services kept from starting: nginx and redis-server start
# their system service on install (nginx on port 80), which the tests do not
# want and which fails in a container without an init system. A
# policy-rc.d that exits 101 ("action forbidden") is Debian's way to say
# so; one that is already there (Docker images have one) is left alone.
huptime_no_service_start() {
  local policy=/usr/sbin/policy-rc.d status=0
  if [ -e "$policy" ]; then
    "$@"
    return
  fi
  huptime_apt sh -c "printf '#!/bin/sh\nexit 101\n' > $policy &&
                     chmod 755 $policy" || return 1
  "$@" || status=$?
  huptime_apt rm -f "$policy"
  return "$status"
}

# Configures build/ (reusing it when it is a meson build directory, wiping
# it when reconfiguring fails) and builds the given ninja targets (paths
# relative to build/), or everything.
huptime_build() {
  cd "$HUPTIME_ROOT"
  if [ -f "$HUPTIME_BUILD/meson-private/coredata.dat" ]; then
    meson setup --reconfigure "$HUPTIME_BUILD" "${HUPTIME_SETUP_ARGS[@]}" \
      >/dev/null ||
      meson setup --wipe "$HUPTIME_BUILD" "${HUPTIME_SETUP_ARGS[@]}" ||
      return 1
  else
    meson setup "$HUPTIME_BUILD" "${HUPTIME_SETUP_ARGS[@]}" || return 1
  fi
  ninja -C "$HUPTIME_BUILD" "$@" || return 1
}

# Runs `meson test` on build/ with the given arguments, then reads
# build/meson-logs/testlog.json (one JSON object per test), prints the tail
# of each failed test's output and the closing line "N passed, N failed"
# (", N skipped" when some were). OK and EXPECTEDFAIL pass; FAIL, TIMEOUT,
# UNEXPECTEDPASS and ERROR fail. When meson test itself fails with no
# failed test in the log (a test program missing, an interrupted run), that
# counts as one failure. Exit status 1 when anything failed.
huptime_test() {
  local log="$HUPTIME_BUILD/meson-logs/testlog.json" status=0
  rm -f "$log"  # never summarise a previous run
  meson test -C "$HUPTIME_BUILD" "$@" || status=$?
  huptime_summary "$status"
}

# The summary part of huptime_test; $1 is meson test's exit status.
huptime_summary() {
  python3 - "$HUPTIME_BUILD/meson-logs/testlog.json" "${1:-0}" <<'PY'
import json, sys
passed, failed, skipped = 0, 0, 0
meson_status = int(sys.argv[2])
try:
    lines = open(sys.argv[1]).read().splitlines()
except OSError as e:
    print(f"no test log ({e.strerror}): meson test exited with status "
          f"{meson_status} before running the tests")
    print("0 passed, 1 failed")
    sys.exit(1)
for line in lines:
    if not line.strip():
        continue
    test = json.loads(line)
    result = test.get("result")
    if result in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif result == "SKIP":
        skipped += 1
    else:
        failed += 1
        output = (test.get("stdout") or "") + (test.get("stderr") or "")
        tail = output.rstrip().splitlines()[-40:]
        print(f"---- {test.get('name')}: {result} "
              f"(last {len(tail)} lines of its output)")
        print("\n".join(tail))
if meson_status != 0 and failed == 0:
    print(f"meson test exited with status {meson_status} (counted as one "
          "failure)")
    failed = 1
if failed:
    print("----")
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
PY
}
