// Erase through the binding: the receipt (and erasing twice), history without personal data,
// suppression, the errors (each its own code, nothing changed), argument checks, and concurrent
// identifies, splits and erases after which the invariants hold in SQL, no erased row is left,
// every history explains its rows and verify is clean.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Identity } from './identity.mjs'
import { assertHistoriesExplainRows, freshDatabase, I1_I2, I3_UNBLOCKED, workload } from './helpers.mjs'

// Doc's customer: doc@/555 and emmett@/555; its ids, primary first
async function doc(ident) {
  await ident.identify({ email: 'doc@x.io', phoneNumber: '555' })
  const c = await ident.identify({ email: 'emmett@x.io', phoneNumber: '555' })
  return [c.primaryContactId, ...c.secondaryContactIds]
}

test('an erase answers a receipt, once and again, and history keeps no values', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  const ids = await doc(ident)
  const receipt = await ident.erase(BigInt(ids[1]))
  const { erasedAt, ...rest } = receipt
  assert.deepEqual(rest, { customerId: ids[0], contactIds: ids, suppressed: false })
  assert.ok(Math.abs(Date.now() - new Date(erasedAt).getTime()) < 300_000, erasedAt)
  assert.deepEqual(await ident.erase(ids[0], { suppress: true }), receipt)
  assert.equal(await ident.lookup({ email: 'doc@x.io' }), null)
  const history = await ident.history(ids[0])
  assert.deepEqual(history.events.map((e) => e.type), ['created', 'created', 'erased'])
  assert.ok(history.events.every((e) => !e.email && !e.phoneNumber), JSON.stringify(history))
  assert.deepEqual(history.events.at(-1).erasedIds, ids)
  const again = await ident.identify({ email: 'doc@x.io', phoneNumber: '555' })
  assert.ok(!ids.includes(again.primaryContactId))
  assert.equal((await ident.verify()).clean, true)
  await ident.close()
})

test('suppressed values are ignored, and bad erases reject and change nothing', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  const ids = await doc(ident)
  await assert.rejects(ident.erase(999), { code: 'NOT_FOUND', message: 'contact 999 not found' })
  for (const bad of ['1', 0, -1, 1.5, null, undefined]) {
    await assert.rejects(ident.erase(bad), { code: 'INVALID_INPUT', field: 'contactId' }, String(bad))
  }
  for (const options of [{ suppress: 'yes' }, 'x', 3]) {
    await assert.rejects(ident.erase(ids[0], options), { code: 'INVALID_INPUT', field: 'request' })
  }
  assert.notEqual(await ident.lookup({ email: 'doc@x.io' }), null)
  assert.equal((await ident.erase(ids[0], { suppress: true })).suppressed, true)
  const c = await ident.identify({ email: 'doc@x.io', phoneNumber: '123456' })
  assert.deepEqual(c.ignored, [{ field: 'email', reason: 'suppressed' }])
  await assert.rejects(ident.identify({ phoneNumber: '555' }), { code: 'BLOCKED_VALUE', fields: ['phoneNumber'] })
  assert.deepEqual((await ident.tenant('other').identify({ email: 'doc@x.io' })).ignored, undefined)
  await ident.close()
})

test('concurrent identifies, splits and erases keep every invariant', async () => {
  const db = await freshDatabase()
  try {
    const ident = await Identity.connect(db.url)
    const erased = []
    const worker = async (seed) => {
      for (const [i, request] of workload(seed, 40, 6, 20).entries()) {
        let c
        try {
          c = await ident.identify(request)
        } catch (e) {
          assert.equal(e.code, 'BLOCKED_VALUE') // every value blocked or suppressed
          continue
        }
        try {
          if (i % 6 === 5 && c.secondaryContactIds.length > 0) {
            await ident.split(c.primaryContactId, c.secondaryContactIds.filter((_, k) => k % 2 === 0), { blockShared: true })
          }
          if (i % 9 === 8 && seed % 2 === 1) {
            erased.push(...(await ident.erase(c.primaryContactId, { suppress: i % 2 === 0 })).contactIds)
          }
        } catch (e) {
          assert.ok(['INVALID_INPUT', 'NOT_FOUND'].includes(e.code), e.message) // the customer changed meanwhile
        }
      }
    }
    await Promise.all([1, 2, 3, 4, 5, 6].map(worker))
    assert.ok(erased.length > 0)
    assert.deepEqual(await db.query(I3_UNBLOCKED), [{ n: 0 }])
    assert.deepEqual(await db.query(I1_I2), [{ n: 0 }])
    const rows = await db.query('SELECT id::int FROM contact')
    assert.deepEqual(rows.filter((r) => erased.includes(r.id)), [])
    await assertHistoriesExplainRows(ident, db)
    assert.equal((await ident.verify()).clean, true)
    await ident.close()
  } finally {
    await db.drop()
  }
})
