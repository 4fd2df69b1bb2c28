// jobProgress(): while a long import or erase runs in steps (SQLite, more than a few thousand
// rows), the same process sees how far it got; null before, after, and on a store that writes
// in one transaction.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Identity } from './identity.mjs'

// one customer of `rows` rows, each with its own email, linked to row 1
const customer = (rows) =>
  Array.from({ length: rows }, (_, i) => ({
    id: i + 1,
    email: `row${i + 1}@job.io`,
    linkedId: i === 0 ? null : 1,
    createdAt: 1_577_836_800 + i,
  }))

// awaits `write`, polling jobProgress() meanwhile: every value seen
async function watch(ident, write) {
  const seen = []
  let done = false
  const running = write.finally(() => { done = true })
  while (!done) {
    const progress = ident.jobProgress()
    if (progress !== null) seen.push(progress)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await running
  return seen
}

function assertAdvances(seen, kind) {
  assert.ok(seen.length >= 2, JSON.stringify(seen))
  const total = seen[0].total
  assert.ok(seen.every((p) => p.kind === kind && p.total === total && p.done >= 0 && p.done <= total), JSON.stringify(seen))
  assert.ok(seen.every((p, i) => i === 0 || seen[i - 1].done <= p.done), `went back: ${JSON.stringify(seen)}`)
  assert.ok(seen.some((p) => p.done > 0 && p.done < total), `no step in between: ${JSON.stringify(seen)}`)
}

test('a long import and erase tell how far they got', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'identity-job-'))
  try {
    const ident = await Identity.connect(`sqlite://${join(dir, 'job.db')}`)
    assert.equal(ident.jobProgress(), null)
    let seen = await watch(ident, ident.importTableRows(customer(16_000)))
    assertAdvances(seen, 'import')
    assert.ok(seen[0].total >= 2 * 16_000, 'rows and their events at least')
    assert.equal(ident.jobProgress(), null, 'forgotten once done')
    seen = await watch(ident, ident.erase(1))
    assertAdvances(seen, 'erase')
    assert.equal(ident.jobProgress(), null)
    await ident.close()
    assert.throws(() => ident.jobProgress(), { code: 'CLOSED' })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('stores that write in one transaction have none', async () => {
  const ident = await Identity.connect('memory:')
  await ident.importTableRows(customer(5_000))
  assert.equal(ident.jobProgress(), null)
  await ident.close()
})
