// stats() and feedStats() through the binding: identifies counted by outcome (a concurrent
// storm's add up to the rows and customers it wrote, checked in SQL), refusals by error code,
// the pool, the feed's size and each webhook endpoint's backlog.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Identity } from './identity.mjs'
import { freshDatabase } from './helpers.mjs'

test('identifies are counted by outcome and refusals by code', async () => {
  const ident = await Identity.connect('memory:')
  await ident.identify({ email: 'doc@hillvalley.edu' }) // created
  await ident.identify({ email: 'doc@hillvalley.edu' }) // known
  await ident.identify({ email: 'doc@hillvalley.edu', phoneNumber: '555' }) // linked
  await ident.identify({ email: 'marty@hillvalley.edu', phoneNumber: '777' }) // created
  await ident.identify({ email: 'doc@hillvalley.edu', phoneNumber: '777' }) // merged
  await assert.rejects(ident.identify({ email: 'nope' }), { code: 'INVALID_INPUT' })
  await assert.rejects(ident.identify({ email: 42 }), { code: 'INVALID_INPUT' })
  const stats = ident.stats()
  assert.deepEqual(stats.identify, { created: 2, linked: 1, merged: 1, known: 1, refused: 2, failed: 0 })
  assert.deepEqual(stats.identifyErrors, { invalid_input: 2 })
  assert.deepEqual(stats.contention, {})
  assert.deepEqual(stats.webhookDeliveries, { succeeded: 0, failed: 0 })
  assert.equal(stats.pool.waiting, null, 'SQLite: its writers queue on its write lock')
  assert.ok(stats.pool.max >= 1 && stats.pool.inUse + stats.pool.idle <= stats.pool.max)
  // a handle for another tenant shares its connection's counters
  await ident.tenant('shop-b').identify({ email: 'doc@hillvalley.edu' })
  assert.equal(ident.stats().identify.created, 3)
  await ident.close()
  assert.throws(() => ident.stats(), { code: 'CLOSED' })
})

test('a concurrent storm on PostgreSQL counts one outcome per request, adding up in SQL', async () => {
  const db = await freshDatabase()
  try {
    const ident = await Identity.connect(db.url, { maxConnections: 8 })
    const requests = Array.from({ length: 200 }, (_, n) => ({
      email: `c${n % 7}@storm.io`,
      phoneNumber: `555${n % 5}`,
    }))
    await Promise.all(requests.map((r) => ident.identify(r)))
    const { identify, pool } = ident.stats()
    const [{ rows, customers }] = await db.query(
      `SELECT count(*)::int AS rows, count(*) FILTER (WHERE linked_id IS NULL)::int AS customers
       FROM contact WHERE deleted_at IS NULL`,
    )
    const total = Object.values(identify).reduce((a, b) => a + b, 0)
    assert.equal(total, requests.length)
    assert.equal(identify.created + identify.linked, rows)
    assert.equal(identify.created - identify.merged, customers)
    assert.equal(pool.waiting, 0, 'nothing waits once the storm is over')
    assert.equal((await ident.verify()).clean, true)
    await ident.close()
  } finally {
    await db.drop()
  }
})

test('feedStats counts the events and each endpoint backlog', async () => {
  const ident = await Identity.connect('memory:')
  assert.deepEqual(await ident.feedStats(), { eventsWritten: 0, webhooks: [] })
  const shop = ident.tenant('shop-w')
  const hook = await shop.createWebhook('https://crm.example.com/hooks')
  await ident.identify({ email: 'doc@hillvalley.edu' })
  for (const n of [0, 1, 2]) await shop.identify({ email: `w${n}@x.io` })
  const feed = await ident.feedStats()
  assert.equal(feed.eventsWritten, 4)
  assert.equal(feed.webhooks.length, 1)
  const [backlog] = feed.webhooks
  assert.equal(backlog.id, hook.id)
  assert.equal(backlog.tenant, 'shop-w')
  assert.equal(backlog.state, 'active')
  assert.equal(backlog.undelivered, 3, "its own tenant's events since it was created")
  assert.ok(!Number.isNaN(Date.parse(backlog.oldestUndeliveredAt)))
  await ident.close()
})
