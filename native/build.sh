#!/usr/bin/env bash
# Builds the addons (native/*.c, targets in binding.gyp) against the headers of the running Node,
# which ship with it (no download). Called by `npm run build`; incremental after the
# first run.
set -euo pipefail
cd "$(dirname "$0")"
gyp=../node_modules/.bin/node-gyp
nodedir=$(node -p 'require("node:path").resolve(process.execPath, "../..")')
if [ ! -f build/Makefile ] || [ ! -f build/config.gypi ] || [ binding.gyp -nt build/Makefile ] || ! grep -q "\"nodedir\": \"$nodedir\"" build/config.gypi; then
  "$gyp" configure --nodedir="$nodedir" --loglevel=warn
fi
"$gyp" build --loglevel=warn >/dev/null
