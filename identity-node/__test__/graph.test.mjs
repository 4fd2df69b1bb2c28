// verify and rebuild: the derived records against the rows, and rows changed in SQL behind the
// library's back.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Identity } from './identity.mjs'
import { freshDatabase } from './helpers.mjs'

test('verify reports rows changed in SQL until rebuild repairs them', async () => {
  const db = await freshDatabase()
  try {
    const ident = await Identity.connect(db.url)
    await ident.identify({ email: 'a@x.io', phoneNumber: '1' })
    await ident.identify({ email: 'b@x.io', phoneNumber: '1' })
    assert.deepEqual(await ident.verify(), { rows: 2, customers: 1, problems: [], clean: true })

    // 3 -> 2: a secondary linked to a secondary
    await db.query(`INSERT INTO contact (email, linked_id, link_precedence, created_at, updated_at)
                    VALUES ('c@x.io', 2, 'secondary', now(), now())`)
    const report = await ident.verify()
    assert.equal(report.clean, false)
    const codes = report.problems.map((p) => p.code)
    assert.ok(codes.includes('broken_link') && codes.includes('pending_changes'), codes.join())
    assert.ok(report.problems.some((p) => p.message === 'I2: row 3 links to 2, which is not a visible primary'))

    assert.deepEqual(await ident.rebuild(), { rows: 3, customers: 1, relinked: [3] })
    assert.equal((await ident.verify()).clean, true)
    await ident.close()
    await assert.rejects(ident.verify(), { code: 'CLOSED' })
  } finally {
    await db.drop()
  }
})

test('ping resolves while open and rejects with CLOSED after close', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  assert.equal(await ident.ping(), undefined)
  await ident.close()
  await assert.rejects(ident.ping(), { code: 'CLOSED' })
})
