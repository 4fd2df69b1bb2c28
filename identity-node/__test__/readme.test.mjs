// Every JavaScript snippet of README.md (and of docs/operations.md) runs exactly as printed: ES modules as .mjs files, the
// CommonJS one as a .cjs file (the package resolves by its own name), so the docs cannot rot.
// They run beside the package under test: here (the package resolves itself by name), or in the
// project IDENTITY_NODE_PROJECT names, where npm installed the published artifacts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const ROOT = join(import.meta.dirname, '..', '..')
const HERE = process.env.IDENTITY_NODE_PROJECT ?? import.meta.dirname

// runs one block exactly as printed: an ES module, or CommonJS when it says require()
function runBlock(block) {
  const file = join(HERE, block.includes('require(') ? '.readme-snippet.cjs' : '.readme-snippet.mjs')
  writeFileSync(file, block)
  try {
    const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 })
    assert.equal(run.status, 0, run.stderr)
    return run.stdout
  } finally {
    rmSync(file, { force: true })
  }
}

test('the README snippets run', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
  assert.equal(blocks.length, 12)
  const quickstart = runBlock(blocks[0])
  assert.match(quickstart, /null/, 'the other shop does not know the customer')
  assert.match(quickstart, /\[ '\+919876543210' \]/, 'the shop in India stores E.164')
  assert.match(runBlock(blocks[1]), /^1$/m, 'the CommonJS spelling runs as printed')
  const governance = runBlock(blocks[2])
  assert.match(governance, /^\[\] \[ \{ field: 'email', reason: 'blocked' \} \]$/m)
  assert.match(governance, /^BLOCKED_VALUE \[ 'email' \]$/m)
  const history = runBlock(blocks[3])
  assert.match(history, /^1 \[ 'created', 'created', 'merged' \]$/m)
  const split = runBlock(blocks[4])
  assert.match(split, /^\[ 'doc@hillvalley\.edu' \] \[ 'biff@hillvalley\.edu' \]$/m)
  assert.match(split, /^1 \[ \{ field: 'phoneNumber', reason: 'kept_apart' \} \]$/m)
  const erase = runBlock(blocks[5])
  assert.match(erase, /^\[ 1 \] true$/m)
  assert.match(erase, /^\[\] \[ \{ field: 'email', reason: 'suppressed' \} \]$/m)
  const limits = runBlock(blocks[6])
  assert.match(limits, /^\[ '5550101' \] \[ \{ field: 'phoneNumber', reason: 'limit' \} \]$/m)
  const imported = runBlock(blocks[7])
  assert.match(imported, /^2 1 \[ 2 \]$/m)
  assert.match(imported, /^\[ \[ 'doc@hillvalley\.edu', 'emmett@hillvalley\.edu' \] \]$/m)
  const table = runBlock(blocks[8])
  assert.match(table, /^25417 \[ \[ 25418, 'deleted', 25417 \] \]$/m)
  const feed = runBlock(blocks[9])
  assert.deepEqual(feed.trimEnd().split('\n'), ['contact.created doc@hillvalley.edu', 'contact.created marty@hillvalley.edu'])
  assert.equal(runBlock(blocks[10]).trim(), 'true 1')
  assert.equal(runBlock(blocks[11]).trim(), '1 1')
})

test("the package README's snippets run", () => {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
  assert.equal(blocks.length, 5)
  const first = runBlock(blocks[0])
  assert.match(first, /primaryContactId: 1,/)
  assert.match(first, /phoneNumbers: \[ '123456' \]/)
  assert.equal(first.match(/primaryContactId: 1,/g).length, 2, 'lookup answers the same contact')
  assert.match(runBlock(blocks[1]), /^1$/m)
  // the rest go on from an open `ident`, as the README says; each block as printed after that
  const opened = `import { Identity } from 'identity-reconciliation'
const ident = await Identity.connect('memory:')
await ident.identify({ email: 'doc@hillvalley.edu', phoneNumber: '123456' })
`
  assert.match(runBlock(opened + blocks[2]), /^shop-42 default\nnull$/m)
  const india = runBlock(opened + blocks[3])
  assert.match(india, /phoneRegion: 'IN'/)
  assert.match(india, /^\[ '\+919876543210' \]\nIN$/m)
  assert.match(runBlock(opened + blocks[4]), /^true \[\]$/m)
})

test("the operations guide's snippet runs (in a temporary folder)", () => {
  const guide = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8')
  const blocks = [...guide.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
  assert.equal(blocks.length, 1)
  assert.ok(blocks[0].includes("'/var/backups/identity'"), 'the snippet names its folder')
  const folder = mkdtempSync(join(tmpdir(), 'identity-operations-'))
  try {
    const out = runBlock(blocks[0].replace("'/var/backups/identity'", JSON.stringify(folder)))
    assert.deepEqual(out.trimEnd().split('\n'), ['true', '1 [ 1 ] []'])
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
})
