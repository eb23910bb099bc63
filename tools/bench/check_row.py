#!/usr/bin/env python3
"""One markdown row of tools/bench/check.sh from the best-throughput run among JSON results.

Usage: check_row.py worldrig|orb|sift DATA FILE...   (worldrig: report.json files of
`worldrig check`; orb/sift: outputs of tools/bench/check_opencv.py)
"""
import json
import sys

tool, data, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
runs = [json.load(open(p)) for p in paths]
if tool == "worldrig":
    speed, success, name = "compute_pairs_per_s", "pose_success_pairs", "worldrig check"
else:
    speed, success = "pairs_per_s", "success_rate"
    name = "OpenCV %s %s" % (runs[0]["opencv_version"], tool.upper())
s = max(runs, key=lambda r: r["summary"][speed])["summary"]


def f(v):
    return "n/a" if v is None else "%.3f" % v


print("| %s | %s | %d | %.1f | %s | %s | %.1f %% | %s |" % (
    data, name, s["pairs"], s[speed], f(s["median_rotation_error_deg"]),
    f(s["median_translation_error_deg"]), 100 * s[success], f(s["tse_px"])))
