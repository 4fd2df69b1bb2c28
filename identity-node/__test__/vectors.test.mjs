// Every file in tests/vectors on SQLite and PostgreSQL: answers, errors (code and field),
// created rows and the table (read back in SQL on PostgreSQL; a reapply step's through
// allContacts()), then the identity graph (verify, rebuild, verify).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Identity, signWebhook } from './identity.mjs'
import { freshDatabase, vectorFiles } from './helpers.mjs'

// a `settings` step: its `result` (also what reading the settings answers), or its `error`
async function settingsStep(ident, step, at) {
  const scoped = step.tenant !== undefined ? ident.tenant(step.tenant) : ident
  let outcome
  try {
    outcome = await scoped.setPhoneRegion(step.settings.phoneRegion)
  } catch (e) {
    outcome = e
  }
  if (step.error) {
    assert.ok(outcome instanceof Error, `${at}: expected an error, got ${JSON.stringify(outcome)}`)
    assert.equal(outcome.code, step.error.code.toUpperCase(), at)
    assert.equal(outcome.field, step.error.field, at)
    return
  }
  assert.ok(!(outcome instanceof Error), `${at}: ${outcome?.stack}`)
  assert.equal(outcome.tenantId, step.tenant ?? 'default', at)
  assert.equal(outcome.phoneRegion, step.result.phoneRegion, at)
  assert.deepEqual(await scoped.settings(), outcome, `${at}: read back`)
}

// a `limits` step: the caps as answered and read back, or its `error` (nothing changes)
async function limitsStep(ident, step, at) {
  const scoped = step.tenant !== undefined ? ident.tenant(step.tenant) : ident
  const before = await scoped.settings()
  let outcome
  try {
    outcome = await scoped.setLimits(step.limits)
  } catch (e) {
    outcome = e
  }
  if (step.error) {
    assert.ok(outcome instanceof Error, `${at}: expected an error, got ${JSON.stringify(outcome)}`)
    assert.equal(outcome.code, step.error.code.toUpperCase(), at)
    assert.equal(outcome.field, step.error.field, at)
    assert.deepEqual(await scoped.settings(), before, `${at}: refused caps changed the settings`)
    return
  }
  assert.ok(!(outcome instanceof Error), `${at}: ${outcome?.stack}`)
  assert.deepEqual(outcome.limits, step.result, at)
  assert.deepEqual(await scoped.settings(), outcome, `${at}: read back`)
}

// a blocked-list step (`list`, `block`, `unblock`): its `result`, or its `error` (nothing changes)
async function blockedStep(ident, step, at) {
  const scoped = step.tenant !== undefined ? ident.tenant(step.tenant) : ident
  const before = await scoped.blockedValues()
  let outcome
  try {
    if (step.list) outcome = before
    else if (step.block) outcome = await scoped.block(step.block)
    else outcome = await scoped.unblock(step.unblock)
  } catch (e) {
    outcome = e
  }
  if (step.error) {
    assert.ok(outcome instanceof Error, `${at}: expected an error, got ${JSON.stringify(outcome)}`)
    assert.equal(outcome.code, step.error.code.toUpperCase(), at)
    assert.equal(outcome.field, step.error.field, at)
    assert.deepEqual(await scoped.blockedValues(), before, `${at}: a refused change changed the list`)
    return
  }
  assert.ok(!(outcome instanceof Error), `${at}: ${outcome?.stack}`)
  // the wire shape: `value` or `pattern`, never both
  const wire = step.list ? outcome.map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v != null))) : outcome
  assert.deepEqual(wire, step.result, at)
}

// a `history` step: its `result` as JSON, events without their times, or `not_found`
async function historyStep(ident, step, at) {
  const scoped = step.tenant !== undefined ? ident.tenant(step.tenant) : ident
  let outcome
  try {
    outcome = await scoped.history(step.history)
  } catch (e) {
    outcome = e
  }
  if (step.error) {
    assert.ok(outcome instanceof Error, `${at}: expected an error, got ${JSON.stringify(outcome)}`)
    assert.equal(outcome.code, step.error.code.toUpperCase(), at)
    return
  }
  assert.ok(!(outcome instanceof Error), `${at}: ${outcome?.stack}`)
  const wire = JSON.parse(JSON.stringify(outcome))
  for (const event of wire.events) delete event.at
  assert.deepEqual(wire, step.result, at)
}

// an `events` step: each event's type, tenant and data (its id, occurredAt and cursor strings,
// next the last cursor), or the error with its field
async function eventsStep(ident, step, at) {
  const scoped = step.tenant !== undefined ? ident.tenant(step.tenant) : ident
  let outcome
  try {
    outcome = await scoped.events({ after: step.events.after, limit: step.events.limit })
  } catch (e) {
    outcome = e
  }
  if (step.error) {
    assert.ok(outcome instanceof Error, `${at}: expected an error, got ${JSON.stringify(outcome)}`)
    assert.equal(outcome.code, step.error.code.toUpperCase(), at)
    assert.equal(outcome.field, step.error.field, at)
    return
  }
  assert.ok(!(outcome instanceof Error), `${at}: ${outcome?.stack}`)
  const { next, events } = JSON.parse(JSON.stringify(outcome))
  if (events.length > 0) assert.equal(next, events[events.length - 1].cursor, at)
  const compared = events.map(({ id, occurredAt, cursor, ...rest }) => {
    assert.ok([id, occurredAt, cursor].every((v) => typeof v === 'string'), at)
    return rest
  })
  assert.deepEqual({ events: compared }, step.result, at)
}

// a webhook's wire shape as a vector states it: without id, createdAt, nextAttemptAt and the
// secret (told by create only)
function comparableWebhook(wire, created, at) {
  if (Array.isArray(wire)) return wire.map((w) => comparableWebhook(w, false, at))
  if (wire === null || wire === undefined || wire.eventId !== undefined) return wire ?? null
  const { id, createdAt, nextAttemptAt, secret, ...rest } = wire
  assert.ok(Number.isInteger(id) && typeof createdAt === 'string' && typeof nextAttemptAt === 'string', at)
  assert.ok(created ? secret.startsWith('whsec_') : secret === undefined, `${at}: the secret is told once`)
  return rest
}

// a `webhook` step: the endpoint(s) (see comparableWebhook), or the error with its field
async function webhookStep(ident, step, at) {
  const scoped = step.tenant !== undefined ? ident.tenant(step.tenant) : ident
  const w = step.webhook
  let outcome
  try {
    if (w.create) outcome = await scoped.createWebhook(w.create.url, { types: w.create.types })
    else if (w.list) outcome = await scoped.webhooks()
    else if (w.deliveries !== undefined) outcome = await scoped.webhookDeliveries(w.deliveries, { limit: w.limit })
    else if (w.replay !== undefined) outcome = await scoped.replayWebhook(w.replay, { after: w.after })
    else outcome = await scoped.deleteWebhook(w.delete)
  } catch (e) {
    outcome = e
  }
  if (step.error) {
    assert.ok(outcome instanceof Error, `${at}: expected an error, got ${JSON.stringify(outcome)}`)
    assert.equal(outcome.code, step.error.code.toUpperCase(), at)
    assert.equal(outcome.field, step.error.field, at)
    return
  }
  assert.ok(!(outcome instanceof Error), `${at}: ${outcome?.stack}`)
  const wire = outcome === undefined ? null : JSON.parse(JSON.stringify(outcome))
  assert.deepEqual(comparableWebhook(wire, Boolean(w.create), at), step.result, at)
}

// the call a `split`, `erase` or `import` step makes
function customerCall(scoped, step) {
  if (step.split) {
    return () => scoped.split(step.split.customer, step.split.contactIds, { blockShared: step.split.blockShared })
  }
  if (step.erase) return () => scoped.erase(step.erase.customer, { suppress: step.erase.suppress })
  const { checkouts, table, onError, dryRun, renumber } = step.import
  if (table !== undefined) return () => scoped.importTableRows(table, { onError, dryRun, renumber })
  return () => scoped.importCheckouts(checkouts, { onError, dryRun })
}

// a `split`, `erase` or `import` step: its `result` as JSON (an erase's receipt without
// `erasedAt`) and `table`, or its `error` (which changes no row)
async function customerStep(ident, step, at, rowsOf) {
  const scoped = step.tenant !== undefined ? ident.tenant(step.tenant) : ident
  const call = customerCall(scoped, step)
  const table = 'SELECT id::int, linked_id::int AS "linkedId" FROM contact ORDER BY id'
  const before = rowsOf ? await rowsOf(table) : null
  let outcome
  try {
    outcome = await call()
  } catch (e) {
    outcome = e
  }
  const after = rowsOf ? await rowsOf(table) : null
  if (step.error) {
    assert.ok(outcome instanceof Error, `${at}: expected an error, got ${JSON.stringify(outcome)}`)
    assert.equal(outcome.code, step.error.code.toUpperCase(), at)
    assert.equal(outcome.field, step.error.field, at)
    assert.deepEqual(after, before, `${at}: a refused change changed the table`)
    return
  }
  assert.ok(!(outcome instanceof Error), `${at}: ${outcome?.stack}`)
  const wire = JSON.parse(JSON.stringify(outcome))
  if (step.erase) {
    assert.ok(!Number.isNaN(new Date(wire.erasedAt).getTime()), `${at}: erasedAt ${wire.erasedAt}`)
    delete wire.erasedAt
  }
  assert.deepEqual(wire, step.result, at)
  if (step.table && after) assert.deepEqual(after, step.table, `${at}: table`)
}

// an erasure record as the vectors show it: its tenant and time checked, then its receipt, the
// ids of its rows and the kinds of its digests (no vector can know times, digests or secret)
function recordAsVector(record, tenant, at) {
  assert.equal(record.tenantId, tenant, `${at}: tenantId`)
  assert.equal(typeof record.erasedAt, 'string', `${at}: erasedAt`)
  assert.ok(!Number.isNaN(new Date(record.erasedAt).getTime()), `${at}: erasedAt ${record.erasedAt}`)
  const { customerId, contactIds, suppressed, rows, digests } = record
  return { customerId, contactIds, suppressed, rows: rows.map((r) => r.id), digests: digests.map((d) => d.kind) }
}

// an `erasures` step: the tenant's records, oldest first
async function erasuresStep(ident, step, at) {
  const scoped = step.tenant !== undefined ? ident.tenant(step.tenant) : ident
  const records = (await scoped.erasures()).map((r) => recordAsVector(r, scoped.tenantId, at))
  assert.deepEqual(records, step.result, at)
}

// a `reapply` step: its report and `table`, or its `error`, which changes no row and no record
async function reapplyStep(ident, step, at) {
  const scoped = step.tenant !== undefined ? ident.tenant(step.tenant) : ident
  const table = async () => (await scoped.allContacts()).map(({ id, linkedId }) => ({ id, linkedId }))
  const [rowsBefore, recordsBefore] = [await table(), await scoped.erasures()]
  let outcome
  try {
    outcome = await scoped.reapplyErasures(step.reapply)
  } catch (e) {
    outcome = e
  }
  if (step.error) {
    assert.ok(outcome instanceof Error, `${at}: expected an error, got ${JSON.stringify(outcome)}`)
    assert.equal(outcome.code, step.error.code.toUpperCase(), at)
    assert.equal(outcome.field, step.error.field, at)
    assert.deepEqual(await table(), rowsBefore, `${at}: a refused reapply changed the table`)
    assert.deepEqual(await scoped.erasures(), recordsBefore, `${at}: a refused reapply kept a record`)
    return
  }
  assert.ok(!(outcome instanceof Error), `${at}: ${outcome?.stack}`)
  assert.deepEqual(outcome, step.result, at)
  if (step.table) assert.deepEqual(await table(), step.table, `${at}: table`)
}

async function replay(ident, vector, db) {
  const countedBefore = ident.stats().identify
  for (const [i, step] of vector.steps.entries()) {
    const at = `${vector.name} step ${i}`
    // the step's tenant (absent: the default); its rows, the default's for a bad tenant id
    const seen = step.tenant !== undefined && step.error?.field !== 'tenant' ? step.tenant : 'default'
    const rowsOf = (sql) => db.query(sql.replace('ORDER BY', `WHERE tenant_id = '${seen}' ORDER BY`))
    if (step.settings) {
      await settingsStep(ident, step, at)
      continue
    }
    if (step.list || step.block || step.unblock) {
      await blockedStep(ident, step, at)
      continue
    }
    if (step.history !== undefined) {
      await historyStep(ident, step, at)
      continue
    }
    if (step.events) {
      await eventsStep(ident, step, at)
      continue
    }
    if (step.webhook) {
      await webhookStep(ident, step, at)
      continue
    }
    if (step.customer !== undefined) {
      const call = (step.tenant !== undefined ? ident.tenant(step.tenant) : ident).customer(step.customer)
      if (step.error) {
        await assert.rejects(call, { code: step.error.code.toUpperCase() }, at)
      } else {
        const customer = await call
        for (const row of customer.rows) {
          assert.equal(typeof row.createdAt, 'string', at)
          assert.equal(typeof row.updatedAt, 'string', at)
          delete row.createdAt
          delete row.updatedAt
        }
        assert.deepEqual(customer, step.result, at)
      }
      continue
    }
    if (step.stats) {
      // the identify counts' change since the vector's first step
      const now = ident.stats().identify
      const counted = Object.fromEntries(Object.entries(now).map(([k, n]) => [k, n - countedBefore[k]]))
      assert.deepEqual(counted, step.result.identify, at)
      continue
    }
    if (step.signature) {
      const { secret, id, timestamp, body } = step.signature
      assert.equal(signWebhook(secret, id, timestamp, body), step.result, at)
      continue
    }
    if (step.split || step.erase || step.import) {
      await customerStep(ident, step, at, db ? rowsOf : null)
      continue
    }
    if (step.export) {
      const scoped = step.tenant !== undefined ? ident.tenant(step.tenant) : ident
      assert.deepEqual(JSON.parse(JSON.stringify(await scoped.customers())), step.result, at)
      continue
    }
    if (step.contacts) {
      const scoped = step.tenant !== undefined ? ident.tenant(step.tenant) : ident
      const rows = (await scoped.allContacts()).map(({ createdAt, updatedAt, ...row }) => {
        assert.ok(!Number.isNaN(new Date(createdAt).getTime()) && !Number.isNaN(new Date(updatedAt).getTime()), at)
        return row
      })
      assert.deepEqual(rows, step.result, at)
      continue
    }
    if (step.limits) {
      await limitsStep(ident, step, at)
      continue
    }
    if (step.erasures) {
      await erasuresStep(ident, step, at)
      continue
    }
    if (step.reapply) {
      await reapplyStep(ident, step, at)
      continue
    }
    const before = db ? await rowsOf('SELECT id FROM contact ORDER BY id') : null
    let outcome
    try {
      const scoped = step.tenant !== undefined ? ident.tenant(step.tenant) : ident
      outcome = await scoped.identify(step.request)
    } catch (e) {
      outcome = e
    }
    if (step.error) {
      assert.ok(outcome instanceof Error, `${at}: expected an error, got ${JSON.stringify(outcome)}`)
      assert.equal(outcome.code, step.error.code.toUpperCase(), at)
      assert.equal(outcome.field, step.error.field, at)
      if (step.error.code === 'blocked_value') {
        assert.match(outcome.message, /^blocked value: /, at)
        assert.ok(outcome.fields.length > 0, at)
      } else {
        assert.match(outcome.message, /^invalid /, at)
      }
      if (db) assert.deepEqual(await rowsOf('SELECT id FROM contact ORDER BY id'), before, `${at}: wrote`)
      continue
    }
    assert.ok(!(outcome instanceof Error), `${at}: ${outcome?.stack}`)
    // the wire answer: `ignored` goes beside the contact, and only when values were left out
    const { ignored, ...contact } = outcome
    assert.deepEqual(ignored === undefined ? { contact } : { contact, ignored }, step.response, at)
    if (!db) continue
    const rows = await rowsOf('SELECT id::int, linked_id::int AS "linkedId", link_precedence AS "linkPrecedence" FROM contact ORDER BY id')
    const created = rows.filter((r) => !before.some((b) => Number(b.id) === r.id))
    assert.deepEqual(created, step.creates ? [step.creates] : [], `${at}: created rows`)
    if (step.table) assert.deepEqual(rows.map(({ id, linkedId }) => ({ id, linkedId })), step.table, `${at}: table`)
  }
  for (const [tenant, { rows, customers }] of Object.entries(vector.graphs ?? { default: vector.graph })) {
    const t = ident.tenant(tenant)
    const at = `${vector.name} (${tenant})`
    assert.deepEqual(await t.verify(), { rows, customers, problems: [], clean: true }, `${at}: verify`)
    assert.deepEqual(await t.rebuild(), { rows, customers, relinked: [] }, `${at}: rebuild`)
    assert.equal((await t.verify()).clean, true, `${at}: verify after rebuild`)
  }
}

for (const vector of vectorFiles()) {
  test(`${vector.name} on sqlite`, async () => {
    const ident = await Identity.connect('sqlite::memory:')
    await replay(ident, vector, null)
    await ident.close()
  })

  test(`${vector.name} on postgres`, async () => {
    const db = await freshDatabase()
    try {
      const ident = await Identity.connect(db.url)
      await replay(ident, vector, db)
      await ident.close()
    } finally {
      await db.drop()
    }
  })
}
