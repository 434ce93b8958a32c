#!/bin/sh
# Seeds the libFuzzer corpora (tests/fuzz/corpus/<target>/, git-ignored) with the KQL test corpus:
# tests/kql/{ok,parse-ok}/*.kql, plus the error cases of tests/kql/{err,parse-err}/ (they reach
# the diagnostic paths). Idempotent; run from anywhere.
set -eu
fuzz=$(cd "$(dirname "$0")" && pwd)
kql=$fuzz/../kql
for target in kql_parse kql_compile; do
    mkdir -p "$fuzz/corpus/$target"
    for dir in ok parse-ok err parse-err; do
        for f in "$kql/$dir"/*.kql; do
            [ -e "$f" ] && cp "$f" "$fuzz/corpus/$target/$dir-$(basename "$f")"
        done
    done
    # Known crashers stay in the corpus once fixed.
    for f in "$fuzz/regressions"/*; do
        [ -f "$f" ] && cp "$f" "$fuzz/corpus/$target/regression-$(basename "$f")"
    done
    echo "$target: $(ls "$fuzz/corpus/$target" | wc -l) seeds"
done
