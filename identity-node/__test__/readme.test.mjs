// The JavaScript snippet of README.md runs as written (the package resolves by its own name),
// so the documentation cannot rot.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync, rmSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const ROOT = join(import.meta.dirname, '..', '..')

test('the README snippet runs', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
  assert.equal(blocks.length, 1)
  // CommonJS has no top-level await: run the lines inside an async function, as an app would
  const file = join(import.meta.dirname, '.readme-snippet.cjs')
  writeFileSync(file, `(async () => {\n${blocks[0]}})().catch((e) => { console.error(e); process.exit(1) })\n`)
  try {
    const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 })
    assert.equal(run.status, 0, run.stderr)
    assert.match(run.stdout, /null/, 'the other shop does not know the customer')
    assert.match(run.stdout, /\[ '\+919876543210' \]/, 'the shop in India stores E.164')
  } finally {
    rmSync(file, { force: true })
  }
})
