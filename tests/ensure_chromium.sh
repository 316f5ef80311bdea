#!/bin/sh
# Chromium for the browser tests of `bordersim explore` (tests/test_explore_browser.py).
# Playwright's own browser download cannot work here: the tests drive Debian's /usr/bin/chromium.
# As root on Debian (CI), installs it with apt-get when it is absent; elsewhere says what to do.
# Set BORDERSIM_CHROMIUM to use another Chromium binary.
chromium="${BORDERSIM_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$chromium" ]; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: installing chromium with apt-get" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    if [ -x /usr/bin/chromium ]; then
        exit 0
    fi
    echo "ensure_chromium: apt-get did not install /usr/bin/chromium" >&2
    exit 1
fi
echo "ensure_chromium: no Chromium at $chromium; install it (Debian: sudo apt-get install chromium) or set" \
     "BORDERSIM_CHROMIUM; the browser tests will fail until then" >&2
exit 0
