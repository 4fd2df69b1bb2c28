// The change feed through the binding: the events identify, split and erase make, in the JSON
// wire shape; pages and cursors; a long poll woken by a write; the async iterator (with break
// and idleTimeout); the errors, each with its field; and after concurrent identifies on
// PostgreSQL, the feed replayed gives every row its primary.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Identity } from './identity.mjs'
import { freshDatabase, workload } from './helpers.mjs'

test('each write makes its event, in order, in the wire shape', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  const doc = (await ident.identify({ email: 'doc@x.io', phoneNumber: '555' })).primaryContactId
  const marty = (await ident.identify({ email: 'marty@x.io', phoneNumber: '777' })).primaryContactId
  await ident.identify({ email: 'doc@x.io', phoneNumber: '777' }) // merges marty into doc
  await ident.split(doc, [marty])
  await ident.erase(marty)
  const page = await ident.events()
  assert.deepEqual(page.events.map((e) => e.type), [
    'contact.created', 'contact.created', 'customer.merged', 'customer.split', 'customer.erased',
  ])
  const [created, , merged, split, erased] = JSON.parse(JSON.stringify(page.events))
  assert.match(created.id, /^evt_\d+$/)
  assert.ok(created.occurredAt.endsWith('Z'))
  assert.deepEqual({ ...created, id: 0, occurredAt: 0, cursor: 0 }, {
    id: 0, type: 'contact.created', tenant: 'default', occurredAt: 0, cursor: 0,
    data: { contactId: doc, email: 'doc@x.io', phoneNumber: '555' },
  })
  assert.deepEqual(merged.data, { primaryContactId: doc, mergedPrimaryContactId: marty, contactIds: [marty] })
  assert.deepEqual(split.data, {
    customers: [{ primaryContactId: doc, contactIds: [doc] }, { primaryContactId: marty, contactIds: [marty] }],
  })
  assert.deepEqual(erased.data, { contactIds: [marty] })
  // the erased row's values are gone from its earlier event
  assert.deepEqual(page.events[1].data, { contactId: marty, email: null, phoneNumber: null })
  assert.equal(page.next, page.events[4].cursor)
  assert.deepEqual((await ident.events({ after: page.next })).events, [])
  const again = await ident.events({ limit: 2 })
  assert.deepEqual(again.events.map((e) => e.id), page.events.slice(0, 2).map((e) => e.id))
  await ident.close()
})

test('a long poll wakes for a write, and the iterator follows', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  await ident.identify({ email: 'first@x.io' })
  const head = (await ident.events()).next
  setTimeout(() => ident.identify({ email: 'late@x.io' }), 200)
  const started = Date.now()
  const woken = await ident.events({ after: head, wait: 20 })
  assert.deepEqual(woken.events.map((e) => e.data.email), ['late@x.io'])
  assert.ok(Date.now() - started < 15_000)
  const empty = await ident.events({ after: woken.next, wait: 0.2 })
  assert.deepEqual([empty.events, empty.next], [[], woken.next])

  const seen = []
  setTimeout(() => ident.identify({ phoneNumber: '4242' }), 100)
  for await (const event of ident.feed()) {
    seen.push(event.data.email ?? event.data.phoneNumber)
    if (seen.length === 3) break
  }
  assert.deepEqual(seen, ['first@x.io', 'late@x.io', '4242'])
  const rest = []
  for await (const event of ident.feed({ after: woken.next, idleTimeout: 0.3 })) rest.push(event.type)
  assert.deepEqual(rest, ['contact.created'])
  await ident.close()
})

test('bad options are refused with their field', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  for (const [options, field] of [
    [{ after: 'f1.ff' }, 'after'], [{ after: 12 }, 'after'], [{ after: 'nope' }, 'after'],
    [{ limit: 0 }, 'limit'], [{ limit: 1.5 }, 'limit'], [{ limit: '10' }, 'limit'],
    [{ wait: 31 }, 'wait'], [{ wait: -1 }, 'wait'], ['x', 'request'],
  ]) {
    await assert.rejects(ident.events(options), (e) => {
      assert.equal(e.code, 'INVALID_INPUT', JSON.stringify(options))
      assert.equal(e.field, field, JSON.stringify(options))
      return true
    })
  }
  assert.throws(() => ident.feed({ idleTimeout: -1 }), (e) => e.code === 'INVALID_INPUT' && e.field === 'idleTimeout')
  await ident.close()
  await assert.rejects(ident.events(), (e) => e.code === 'CLOSED')
})

test('a cursor older than the events kept is EXPIRED', async () => {
  const db = await freshDatabase()
  try {
    const ident = await Identity.connect(db.url)
    for (const email of ['a@x.io', 'b@x.io', 'c@x.io']) await ident.identify({ email })
    const first = await ident.events({ limit: 1 })
    await db.query('DELETE FROM identity_event WHERE position <= 2')
    await db.query("INSERT INTO identity_feed_floor VALUES ('default', 2)")
    await assert.rejects(ident.events({ after: first.next }), (e) => {
      assert.equal(e.code, 'EXPIRED')
      assert.match(e.message, /oldest cursor kept is f1\.2/)
      return true
    })
    assert.equal((await ident.events()).events.length, 1)
    await ident.close()
  } finally {
    await db.drop()
  }
})

test('after concurrent identifies, the feed replayed gives every row its primary', async () => {
  const db = await freshDatabase()
  try {
    const ident = await Identity.connect(db.url, { maxConnections: 8 })
    await Promise.all(
      [1, 2, 3, 4, 5, 6].map(async (seed) => {
        for (const request of workload(seed, 60)) await ident.identify(request)
      }),
    )
    const primary = new Map()
    let after = null
    for (;;) {
      const page = await ident.events({ after, limit: 1000 })
      if (page.events.length === 0) break
      after = page.next
      for (const { type, data } of page.events) {
        if (type === 'contact.created') primary.set(data.contactId, data.contactId)
        else if (type === 'contact.linked') primary.set(data.contactId, data.primaryContactId)
        else if (type === 'customer.merged') for (const id of data.contactIds) primary.set(id, data.primaryContactId)
        else throw new Error(`unexpected ${type}`)
      }
    }
    const rows = await db.query('SELECT id, coalesce(linked_id, id) AS p FROM contact WHERE deleted_at IS NULL')
    assert.equal(primary.size, rows.length)
    for (const row of rows) assert.equal(primary.get(Number(row.id)), Number(row.p), `row ${row.id}`)
    await ident.close()
  } finally {
    await db.drop()
  }
})

test('pruneEvents deletes old events, and history says so', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  const doc = (await ident.identify({ email: 'doc@x.io' })).primaryContactId
  await ident.tenant('shop-b').identify({ email: 'doc@x.io' })
  const head = (await ident.events()).next
  assert.deepEqual(await ident.pruneEvents(), { events: 0, tenants: 0 })
  assert.equal((await ident.history(doc)).prunedBefore, undefined)
  assert.deepEqual(await ident.pruneEvents({ olderThanDays: 0 }), { events: 2, tenants: 2 })
  await assert.rejects(ident.events({ after: 'f1.0' }), (e) => e.code === 'EXPIRED')
  assert.deepEqual(await ident.events(), { events: [], next: head })
  const history = await ident.history(doc)
  assert.deepEqual(history.events, [])
  assert.ok(!Number.isNaN(new Date(history.prunedBefore).getTime()))
  await assert.rejects(ident.pruneEvents({ olderThanDays: -1 }), (e) => e.code === 'INVALID_INPUT' && e.field === 'olderThanDays')
  await ident.close()
})
