#!/usr/bin/env bash
# Runs every Go fuzz target of the module briefly (FUZZTIME each, default
# 10s), so the parsers and validators that face user or network input are
# fuzzed on every `make test`, not only when someone remembers. A crash
# writes its input under the package's testdata/fuzz, where `go test` then
# replays it forever.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
found=0
while IFS= read -r file; do
	pkg="./$(dirname "$file")"
	for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
		found=$((found + 1))
		echo "fuzz: $pkg $target ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
	done
done < <(grep -rlE '^func Fuzz[A-Za-z0-9_]+\(' --include='*_test.go' . | grep -v '^./tools/' | sed 's|^\./||' | sort)
echo "fuzz: $found targets passed"
