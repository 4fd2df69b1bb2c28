// Split through the binding: a wrong merge undone and the parts kept apart, the errors (each its
// own code, nothing changed), blocking shared values, argument checks, and concurrent identifies
// and splits after which the invariants hold in SQL (I3: no unblocked value in two customers),
// every history explains its rows and verify is clean.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Identity } from './identity.mjs'
import { assertHistoriesExplainRows, freshDatabase, I1_I2, I3_UNBLOCKED, workload } from './helpers.mjs'

// Doc (doc@, 555) and Marty (marty@, 777) merged by doc@ + 777; then Marty's row 3
async function wrongMerge(ident) {
  const doc = (await ident.identify({ email: 'doc@x.io', phoneNumber: '555' })).primaryContactId
  const marty = (await ident.identify({ email: 'marty@x.io', phoneNumber: '777' })).primaryContactId
  await ident.identify({ email: 'doc@x.io', phoneNumber: '777' })
  const three = (await ident.identify({ email: 'marty2@x.io', phoneNumber: '777' })).secondaryContactIds.at(-1)
  return { doc, marty, three }
}

test('a split undoes a wrong merge and keeps the parts apart', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  const { doc, marty, three } = await wrongMerge(ident)
  const split = await ident.split(doc, [three, BigInt(marty)])
  assert.deepEqual(JSON.parse(JSON.stringify(split)), {
    customer: { primaryContactId: doc, emails: ['doc@x.io'], phoneNumbers: ['555'], secondaryContactIds: [] },
    newCustomer: {
      primaryContactId: marty, emails: ['marty@x.io', 'marty2@x.io'], phoneNumbers: ['777'], secondaryContactIds: [three],
    },
    blocked: [],
  })
  const again = await ident.identify({ email: 'doc@x.io', phoneNumber: '777' })
  assert.equal(again.primaryContactId, doc)
  assert.deepEqual(again.ignored, [{ field: 'phoneNumber', reason: 'kept_apart' }])
  const history = await ident.history(three)
  assert.deepEqual(history.events.map((e) => [e.type, e.otherCustomerId, e.movedIds]), [['split_from', doc, [marty, three]]])
  assert.equal((await ident.verify()).clean, true)
  await ident.close()
})

test('bad splits reject with their own code and change nothing', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  const { doc, marty, three } = await wrongMerge(ident)
  const before = await ident.history(doc)
  await assert.rejects(ident.split(doc, [three]), (e) => {
    assert.equal(e.code, 'CONFLICT')
    assert.match(e.message, /share phone 777 with the rows that stay/)
    return true
  })
  for (const ids of [[], [999], [doc, marty, three], 'x', [0], [1.5], null, undefined]) {
    await assert.rejects(ident.split(doc, ids), (e) => {
      assert.equal(e.code, 'INVALID_INPUT', JSON.stringify(ids))
      assert.equal(e.field, 'contactIds')
      return true
    })
  }
  await assert.rejects(ident.split(999, [three]), { code: 'NOT_FOUND', message: 'contact 999 not found' })
  await assert.rejects(ident.split('1', [three]), { code: 'INVALID_INPUT', field: 'contactId' })
  await assert.rejects(ident.split(doc, [three], { blockShared: 'yes' }), { code: 'INVALID_INPUT', field: 'request' })
  assert.deepEqual(await ident.history(doc), before)
  await ident.close()
})

test('shared values can be blocked as part of the split', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  const { marty, three } = await wrongMerge(ident)
  const split = await ident.split(marty, [three], { blockShared: true })
  assert.deepEqual(JSON.parse(JSON.stringify(split.blocked)), [{ kind: 'phone', value: '777' }])
  const c = await ident.identify({ email: 'marty2@x.io', phoneNumber: '777' })
  assert.deepEqual([c.primaryContactId, c.ignored], [three, [{ field: 'phoneNumber', reason: 'blocked' }]])
  await assert.rejects(ident.unblock({ kind: 'phone', value: '777' }), { code: 'CONFLICT' })
  assert.equal((await ident.verify()).clean, true)
  await ident.close()
})

test('concurrent identifies and splits keep every invariant', async () => {
  const db = await freshDatabase()
  try {
    const ident = await Identity.connect(db.url)
    let splits = 0
    const worker = async (seed) => {
      for (const [i, request] of workload(seed, 40, 6, 20).entries()) {
        let c
        try {
          c = await ident.identify(request)
        } catch (e) {
          assert.equal(e.code, 'BLOCKED_VALUE') // every value blocked by a split
          continue
        }
        if (i % 6 === 5 && c.secondaryContactIds.length > 0) {
          try {
            await ident.split(c.primaryContactId, c.secondaryContactIds.filter((_, k) => k % 2 === 0), { blockShared: true })
            splits += 1
          } catch (e) {
            assert.ok(['INVALID_INPUT', 'NOT_FOUND'].includes(e.code), e.message) // the customer changed meanwhile
          }
        }
      }
    }
    await Promise.all([1, 2, 3, 4, 5, 6].map(worker))
    assert.ok(splits > 0)
    assert.deepEqual(await db.query(I3_UNBLOCKED), [{ n: 0 }])
    assert.deepEqual(await db.query(I1_I2), [{ n: 0 }])
    await assertHistoriesExplainRows(ident, db)
    assert.equal((await ident.verify()).clean, true)
    await ident.close()
  } finally {
    await db.drop()
  }
})
