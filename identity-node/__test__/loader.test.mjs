// The loader in index.js: which copy of the package runs, and what a user on a platform without
// a binary reads. An unsupported platform is simulated by overriding process.platform/arch
// before the package loads; a missing platform package by a copy of the main package alone.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Identity, loadedFrom } from './identity.mjs'

// the folder of the package under test: this source tree, or where npm installed it
const packageDir = dirname(fileURLToPath(loadedFrom.startsWith('file:') ? loadedFrom : new URL(loadedFrom, import.meta.url)))
const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'))

function requireIn(dir, prelude = '') {
  const script = `${prelude}
try { require('identity-reconciliation'); console.log('loaded') }
catch (e) { console.log(JSON.stringify({ code: e.code, platform: e.platform, message: e.message })) }`
  const run = spawnSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' })
  assert.equal(run.status, 0, run.stderr)
  return run.stdout.trim() === 'loaded' ? 'loaded' : JSON.parse(run.stdout)
}

test('the package under test is the one that runs', async () => {
  const ident = await Identity.connect('memory:')
  assert.equal((await ident.identify({ email: 'loader@x.io' })).primaryContactId, 1)
  await ident.close()
  if (process.env.IDENTITY_NODE_PROJECT) {
    // the published layout: the main package holds no binary; it comes from the platform package
    assert.ok(packageDir.startsWith(join(process.env.IDENTITY_NODE_PROJECT, 'node_modules')), packageDir)
    assert.deepEqual(readdirSync(packageDir).filter((f) => f.endsWith('.node')), [])
    const platformPackage = createRequire(join(packageDir, 'index.js')).resolve('identity-reconciliation-linux-x64-gnu')
    assert.ok(existsSync(platformPackage))
    assert.equal(pkg.optionalDependencies['identity-reconciliation-linux-x64-gnu'], pkg.version)
  }
})

test('PREBUILT in the loader lists the napi targets of package.json', () => {
  const source = readFileSync(join(packageDir, 'index.js'), 'utf8')
  const prebuilt = JSON.parse(source.match(/const PREBUILT = (\[.*\])/)[1].replaceAll("'", '"'))
  const arch = { x86_64: 'x64', aarch64: 'arm64' }
  const names = pkg.napi.targets.map((triple) => {
    const [cpu, , os, abi] = triple.split('-')
    return [os, arch[cpu], abi].filter(Boolean).join('-')
  })
  assert.deepEqual(prebuilt, names)
})

test('a platform without a prebuilt binary gets told so, and how to build from source', () => {
  // the source tree resolves itself by name; a project resolves its node_modules
  const dir = process.env.IDENTITY_NODE_PROJECT ?? packageDir
  const seen = requireIn(
    dir,
    `Object.defineProperty(process, 'platform', { value: 'darwin' }); Object.defineProperty(process, 'arch', { value: 'arm64' })`,
  )
  assert.equal(seen.code, 'MISSING_BINARY')
  assert.equal(seen.platform, 'darwin-arm64')
  assert.match(seen.message, /has no prebuilt binary for this platform \(darwin-arm64\)/)
  assert.match(seen.message, /prebuilt binaries exist for linux-x64-gnu \(glibc 2\.17 or newer\)/)
  assert.match(seen.message, /npm install && npm run build && npm pack/)
  assert.doesNotMatch(seen.message, /npm has a bug/)
  // musl Linux is another platform: detected, not mistaken for glibc
  const musl = requireIn(dir, `process.report.getReport = () => ({ header: {} })`)
  assert.equal(musl.platform, `linux-${process.arch}-musl`)
})

test('a supported platform whose binary package is missing names the package to install', () => {
  const project = mkdtempSync(join(tmpdir(), 'identity-loader-'))
  try {
    const copy = join(project, 'node_modules', 'identity-reconciliation')
    for (const file of ['index.js', 'package.json']) cpSync(join(packageDir, file), join(copy, file))
    const seen = requireIn(project)
    assert.equal(seen.code, 'MISSING_BINARY')
    assert.equal(seen.platform, 'linux-x64-gnu')
    assert.match(seen.message, new RegExp(`optional dependency identity-reconciliation-linux-x64-gnu@${pkg.version.replaceAll('.', '\\.')}`))
    assert.match(seen.message, /--omit=optional/)
  } finally {
    rmSync(project, { recursive: true, force: true })
  }
})
