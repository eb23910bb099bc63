#!/usr/bin/env bash
# Loads a `worldrig check` HTML report in headless Chromium and checks that it rendered whole.
#
#   tools/check_report_browser.sh REPORT.html [SCREENSHOT.png]
#
# 1. `--dump-dom`: the DOM after loading. Passes when <body data-figures="N"> has N > 0, exactly N
#    <figure class="wr-fig"> elements hold an <svg> or <img> child, the plots carry SVG <text>
#    (axis labels), and the DOM has no browser error page.
# 2. `--screenshot` at 1280x2000 (default REPORT.png beside the report): must be a non-empty PNG.
#
# Environment: CHROMIUM (default /usr/bin/chromium), BROWSER_TIMEOUT_S (default 120).
# Exit status 0 when the page passed, 1 when it did not, 2 on usage or missing tools.
set -euo pipefail

usage() { echo "usage: $0 REPORT.html [SCREENSHOT.png]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
report=$1
[[ -f $report ]] || { echo "check_report_browser: no such file: $report" >&2; exit 2; }
chromium=${CHROMIUM:-/usr/bin/chromium}
[[ -x $chromium ]] || { echo "check_report_browser: $chromium not found (apt-get install -y chromium)" >&2; exit 2; }
command -v perl >/dev/null || { echo "check_report_browser: perl not found" >&2; exit 2; }
limit=${BROWSER_TIMEOUT_S:-120}

abs=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
shot=${2:-${abs%.html}.png}
# file:// URL: percent-encode what a path may hold that a URL may not.
url="file://$(printf '%s' "$abs" | perl -pe 's/([^A-Za-z0-9\/._~-])/sprintf("%%%02X", ord($1))/ge')"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --disable-dev-shm-usage --hide-scrollbars)

fail() { echo "check_report_browser: FAIL: $*" >&2; exit 1; }

if ! timeout "$limit" "$chromium" "${flags[@]}" --user-data-dir="$work/profile-dom" --dump-dom "$url" \
        >"$work/dom.html" 2>"$work/dom.log"; then
    tail -n 20 "$work/dom.log" >&2
    fail "chromium --dump-dom did not finish"
fi
[[ -s $work/dom.html ]] || { tail -n 20 "$work/dom.log" >&2; fail "empty DOM"; }

# Counts from the DOM: declared figures, rendered figures, SVG text elements, error markers.
read -r declared rendered figures texts errors < <(perl -0777 -ne '
    my $declared = /<body[^>]*\bdata-figures="(\d+)"/ ? $1 : -1;
    my ($rendered, $figures) = (0, 0);
    while (/<figure\b([^>]*)>(.*?)<\/figure>/gs) {
        my ($attrs, $inner) = ($1, $2);
        next unless $attrs =~ /\bclass="[^"]*\bwr-fig\b[^"]*"/;
        $figures++;
        $rendered++ if $inner =~ /<(svg|img)\b/;
    }
    my $texts = () = /<text\b/g;
    my $errors = () = /main-frame-error|neterror|net::ERR_|ERR_FILE_NOT_FOUND|ERR_ACCESS_DENIED|This site can.t be reached/g;
    print "$declared $rendered $figures $texts $errors\n";
' "$work/dom.html")

echo "check_report_browser: $report: data-figures=$declared, figures=$figures, with svg/img=$rendered, svg text=$texts"
(( declared > 0 )) || fail "no data-figures count on <body> (page not loaded?)"
(( figures == declared )) || fail "$figures wr-fig figures in the DOM, body declares $declared"
(( rendered == declared )) || fail "$rendered of $declared figures have an <svg> or <img>"
(( texts > 0 )) || fail "no SVG <text> (axis labels) in the DOM"
(( errors == 0 )) || fail "error text in the DOM"

rm -f "$shot"
if ! timeout "$limit" "$chromium" "${flags[@]}" --user-data-dir="$work/profile-shot" --window-size=1280,2000 \
        --screenshot="$shot" "$url" >"$work/shot.log" 2>&1; then
    tail -n 20 "$work/shot.log" >&2
    fail "chromium --screenshot did not finish"
fi
[[ -s $shot ]] || fail "no screenshot written to $shot"
[[ $(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "$shot is not a PNG"
echo "check_report_browser: OK ($declared figures; screenshot $shot)"
