#!/usr/bin/env bash
# The npm consumer check (run by .ci/run after `pnpm build`): pack every public package, lint each
# tarball (publint --strict, attw --profile esm-only), install the tarballs with npm into a fresh
# project (peers from the registry), run a plain-JS IOI patching script on @patchlens/ioi-model,
# run `npx patchlens patch --model ioi`, type-check the script's TypeScript version (strict,
# nodenext) and bundle a browser entry with esbuild.
# Exit status: 0 when everything passes. KEEP=1 keeps the temporary folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/patchlens-consumer.XXXXXX")"
if [ "${KEEP:-}" = 1 ]; then echo "consumer check: keeping $work"; else trap 'rm -rf "$work"' EXIT; fi
bin="$root/node_modules/.bin"
step() { printf '\n== consumer check: %s\n' "$1"; }

step "pack"
mkdir -p "$work/packs" "$work/project"
for dir in "$root"/packages/*/; do
  if node -e 'process.exit(require(process.argv[1]).private ? 0 : 1)' "$dir/package.json"; then continue; fi
  (cd "$dir" && pnpm pack --pack-destination "$work/packs" >/dev/null)
done
ls "$work/packs"

step "publint + attw"
for tarball in "$work"/packs/*.tgz; do
  "$bin/publint" run --strict "$tarball" | tail -n +4
  "$bin/attw" --profile esm-only --no-color --format table-flipped "$tarball" >"$work/attw.txt" \
    || { cat "$work/attw.txt"; echo "attw failed for $(basename "$tarball")"; exit 1; }
done
echo "publint and attw: no problems in $(ls "$work"/packs/*.tgz | wc -l) tarballs"

step "npm install (tarballs + peers from the registry)"
cp "$here"/ioi-patching.mjs "$here"/ioi-patching.ts "$here"/browser-entry.js "$here"/bundle.mjs "$work/project/"
node "$here/make-project.mjs" "$root" "$work/packs" "$work/project"
(cd "$work/project" && npm install --no-audit --no-fund --loglevel=error)
# one copy of tfjs-core, shared by every package
copies="$(cd "$work/project" && find node_modules -path '*/@tensorflow/tfjs-core/package.json' | wc -l)"
[ "$copies" -eq 1 ] || { echo "expected 1 copy of @tensorflow/tfjs-core, found $copies"; exit 1; }
[ ! -d "$work/project/node_modules/@tensorflow/tfjs" ] || { echo "@tensorflow/tfjs was installed"; exit 1; }

step "@patchlens/safetensors alone installs no tensor library"
mkdir -p "$work/alone"
cp "$here/safetensors-alone.mjs" "$work/alone/"
(cd "$work/alone" && printf '{"name":"alone","private":true,"type":"module"}\n' >package.json \
  && npm install --no-audit --no-fund --loglevel=error "$work"/packs/patchlens-errors-*.tgz \
    "$work"/packs/patchlens-safetensors-*.tgz \
  && node safetensors-alone.mjs)

step "run the plain-JS IOI script"
(cd "$work/project" && node ioi-patching.mjs && test -s resid_pre.svg)

step "npx patchlens (the CLI from its tarball, --model ioi)"
(cd "$work/project" && npx patchlens patch --model ioi --backend wasm --patch resid_pre \
  --clean "When Mary and John went to the store, John gave a drink to" \
  --corrupted "When Mary and John went to the store, Mary gave a drink to" \
  --answer " Mary" --wrong " John" --out cli.json 2>/dev/null \
  && node -e 'const shape = require("./cli.json").patches.resid_pre.shape;
    if (shape.join() !== "2,15") throw new Error(`resid_pre shape ${shape}`);
    console.log(`patchlens patch --model ioi: resid_pre [${shape}]`);')

step "type-check the TypeScript version"
# Full lib check (no skipLibCheck), so our own .d.ts files are checked too. Two third-party type bugs
# are tolerated, by file: arquero 8.0.3 (ColumnTable.d.ts: an optional rest parameter) and
# @uwdata/flechette 2.6.0 (table.d.ts: implicit any). A consumer's project needs skipLibCheck for them.
set +e
(cd "$work/project" && npx tsc --noEmit --strict --module nodenext --moduleResolution nodenext \
  --target es2022 --lib es2022,dom,esnext.disposable ioi-patching.ts) >"$work/tsc.txt" 2>&1
set -e
grep -E '^node_modules/(arquero|@uwdata/flechette)/' "$work/tsc.txt" | sed 's/^/tolerated (third-party): /' || true
if grep -v -E '^node_modules/(arquero|@uwdata/flechette)/' "$work/tsc.txt" | grep -q .; then
  grep -v -E '^node_modules/(arquero|@uwdata/flechette)/' "$work/tsc.txt"
  echo "tsc: errors outside the tolerated third-party files"; exit 1
fi
echo "tsc: no errors in ioi-patching.ts or any @patchlens/* declaration"

step "bundle for the browser"
(cd "$work/project" && node bundle.mjs)

printf '\nconsumer check: passed\n'
