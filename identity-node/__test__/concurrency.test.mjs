// Many promises in flight at once on PostgreSQL, then the invariants in SQL and the customers
// against a union-find over every request; and proof that waiting never blocks the event loop.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import pg from 'pg'
import { Identity } from './identity.mjs'
import { assertOracle, freshDatabase, workload } from './helpers.mjs'

test('500 concurrent identify promises keep the invariants', async () => {
  const db = await freshDatabase()
  try {
    // 500 calls queue for 16 connections; on a loaded 2-core CI machine a round can take
    // seconds, so the 5 s default acquire timeout (overload shedding, tested elsewhere) is raised
    const ident = await Identity.connect(db.url, { maxConnections: 16, acquireTimeoutMs: 30_000 })
    // 500 promises at once, over identifiers shared by all of them, several rounds
    const requests = []
    for (let round = 0; round < 4; round++) {
      const batch = workload(round + 1, 500, 8, 50)
      requests.push(...batch)
      const answers = await Promise.all(batch.map((r) => ident.identify(r)))
      answers.forEach((a, i) => {
        if (batch[i].email) assert.ok(a.emails.includes(batch[i].email))
        if (batch[i].phoneNumber) assert.ok(a.phoneNumbers.includes(batch[i].phoneNumber))
      })
    }
    assertOracle(db, requests)
    const report = await ident.verify()
    assert.deepEqual(report.problems, [])
    assert.equal(report.clean, true)
    await ident.close()
  } finally {
    await db.drop()
  }
})

test('identical new requests in flight together insert one row', async () => {
  const db = await freshDatabase()
  try {
    const ident = await Identity.connect(db.url, { maxConnections: 16 })
    const answers = await Promise.all(Array.from({ length: 200 }, () => ident.identify({ email: 'same@x.io', phoneNumber: '1' })))
    assert.equal(new Set(answers.map((a) => a.primaryContactId)).size, 1)
    assert.equal((await db.query('SELECT count(*)::int AS n FROM contact'))[0].n, 1)
    assert.equal((await ident.verify()).clean, true)
    await ident.close()
  } finally {
    await db.drop()
  }
})

test('a call waiting on the database never blocks the event loop', async () => {
  const db = await freshDatabase()
  const holder = new pg.Client({ connectionString: db.url })
  try {
    const ident = await Identity.connect(db.url)
    await ident.identify({ email: 'first@x.io', phoneNumber: '1' })
    // writes lock the customer's primary row: hold that lock from another connection
    await holder.connect()
    await holder.query('BEGIN')
    await holder.query('SELECT id FROM contact WHERE id = 1 FOR UPDATE')
    const pending = ident.identify({ email: 'second@x.io', phoneNumber: '1' })
    let settled = false
    pending.then(() => { settled = true }, () => { settled = true })
    let ticks = 0
    const timer = setInterval(() => { ticks++ }, 5)
    await new Promise((resolve) => setTimeout(resolve, 300))
    clearInterval(timer)
    assert.ok(ticks >= 20, `timers kept firing while the identify waited (${ticks})`)
    assert.equal(settled, false, 'the identify is still waiting for the lock')
    await holder.query('ROLLBACK')
    const contact = await pending
    assert.deepEqual(contact.secondaryContactIds, [2])
    await ident.close()
  } finally {
    await holder.end().catch(() => {})
    await db.drop()
  }
})
