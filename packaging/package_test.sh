#!/usr/bin/env bash
# `make package-test`: install the built .deb on this machine, run the installed
# `hearth --self-test` with a clean environment and no network, check that it wrote
# nothing into /opt/hearth, run tests/packaging against the built artefacts, then
# remove the package. Needs root and apt (CI runs as root on Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("hearth"))')
deb="dist/hearth_${version}_amd64.deb"
[ -f "$deb" ] || { echo "package-test: $deb is missing (make package)" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
    echo "package-test: installing the .deb needs root (CI runs as root)" >&2
    exit 1
fi

remove() { DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq hearth >/dev/null || true; }
trap remove EXIT

echo "package-test: installing $deb"
# apt-get, not dpkg -i: it installs the Depends: from the archive.
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb"; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb"
fi

home=$(mktemp -d)
marker=$(mktemp)  # anything in /opt/hearth newer than this was written by the app
run_clean=(env -i "HOME=$home" PATH=/usr/bin:/bin LANG=C.UTF-8)
if unshare -rn true 2>/dev/null; then
    # A new network namespace with only a loopback that is down: no network at all.
    offline=(unshare -rn)
    echo "package-test: running the installed hearth --self-test offline (unshare -rn)"
else
    offline=()
    echo "package-test: NOTE unshare is unavailable here; the self-test runs WITH the network"
fi
"${offline[@]}" "${run_clean[@]}" /usr/bin/hearth --self-test
echo "package-test: hearth-cli from the package"
"${offline[@]}" "${run_clean[@]}" /usr/bin/hearth-cli models list

written=$(find /opt/hearth -newer "$marker")
if [ -n "$written" ]; then
    echo "$written" >&2
    echo "package-test: the app wrote the above into /opt/hearth; it must write only to the user's folders" >&2
    exit 1
fi
rm -rf "$home" "$marker"

echo "package-test: tests/packaging"
HEARTH_PACKAGE_TEST=1 QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest tests/packaging -q -p no:cacheprovider
