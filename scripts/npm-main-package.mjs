// Turns identity-node/package.json (copied to a staging folder) into the published main package:
// the per-platform binary packages become optional dependencies, the napi-rs layout that the
// loader in index.js expects, and what only building and testing need is left out.
// Usage: node scripts/npm-main-package.mjs <staged package.json>
import { readFileSync, writeFileSync } from 'node:fs'

const path = process.argv[2]
const pkg = JSON.parse(readFileSync(path, 'utf8'))
// napi-rs's names for the targets this package is built for (package.json `napi.targets`)
const key = { 'x86_64-unknown-linux-gnu': 'linux-x64-gnu' }
pkg.optionalDependencies = {}
for (const triple of pkg.napi.targets) {
  if (!key[triple]) throw new Error(`no platform name for the napi target ${triple}: add it here and to index.js`)
  pkg.optionalDependencies[`${pkg.name}-${key[triple]}`] = pkg.version
}
delete pkg.devDependencies
delete pkg.overrides
delete pkg.scripts
pkg.files = pkg.files.filter((f) => !f.endsWith('.node'))
writeFileSync(path, JSON.stringify(pkg, null, 2) + '\n')
