#!/bin/bash
# test_doc_links.sh - every relative link in the repository's Markdown
# leads somewhere: the file exists, and a #fragment names a heading of the
# target (GitHub's anchors).  Links in code blocks and code spans are text.
set -u
. "$(dirname "$0")/../lib.sh"

out=$(cd "$REPO" && git ls-files -co --exclude-standard '*.md' | "${PYTHON:-python3}" -I -c '
import os, re, sys

def slug(heading):
    s = heading.strip().lower().replace("`", "")
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")

def anchors(path, cache={}):
    if path not in cache:
        seen, out, fence = {}, set(), False
        for line in open(path, encoding="utf-8"):
            if line.startswith("```"):
                fence = not fence
            m = None if fence else re.match(r"#{1,6} (.*)", line)
            if m:
                a = slug(m.group(1))
                n = seen.get(a, 0)
                seen[a] = n + 1
                out.add(a if n == 0 else "%s-%d" % (a, n))
        cache[path] = out
    return cache[path]

links = bad = 0
for md in sys.stdin.read().split():
    if md.startswith(("build", ".git/")) or not os.path.exists(md):
        continue
    fence = False
    for no, line in enumerate(open(md, encoding="utf-8"), 1):
        if line.startswith("```"):
            fence = not fence
            continue
        if fence:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        for target in re.findall(r"\]\(([^)\s]+)\)", line):
            if re.match(r"[a-z]+:", target):
                continue
            links += 1
            path, _, frag = target.partition("#")
            full = os.path.normpath(os.path.join(os.path.dirname(md), path)) if path else md
            if not os.path.exists(full):
                print("%s:%d: %s: no such file" % (md, no, target)); bad += 1
            elif frag and full.endswith(".md") and frag not in anchors(full):
                print("%s:%d: %s: no heading #%s there" % (md, no, target, frag)); bad += 1
print("checked %d links" % links)
sys.exit(1 if bad else 0)' 2>&1); rc=$?
[ $rc = 0 ] && t_ok "every relative Markdown link leads to a file and heading ($(printf '%s' "$out" | tail -n 1))" ||
    t_fail "broken Markdown links" "$out"
t_done doc_links
