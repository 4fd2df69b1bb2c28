// Starts the Express app on a free port and replays every shared vector over HTTP; then the
// body and error rules, the restore routes (a backup, refused reapplies) and where it binds.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { signWebhook } from 'identity-reconciliation'
import { createApp } from './app.mjs'
import { assertBindsLoopback, assertRestoreRoutes, replayVector, vectorFiles } from '../http-vectors.mjs'

async function serve(url = 'sqlite::memory:', options = {}) {
  const { app, identity } = await createApp(url, options)
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  const base = `http://127.0.0.1:${server.address().port}`
  return { base, identity, close: async () => { server.close(); await identity.close() } }
}

for (const file of vectorFiles()) {
  test(`vector ${file} over HTTP`, async () => {
    const { base, close } = await serve()
    try {
      await replayVector(base, file, { sign: signWebhook })
    } finally {
      await close()
    }
  })
}

test('malformed JSON and oversized bodies get JSON errors', async () => {
  const { base, close } = await serve()
  try {
    const malformed = await fetch(`${base}/identify`, { method: 'POST', body: '{' })
    assert.equal(malformed.status, 400)
    assert.equal((await malformed.json()).error.code, 'malformed_json')
    const big = await fetch(`${base}/identify`, { method: 'POST', body: 'x'.repeat(20_000) })
    assert.equal(big.status, 413)
    for (const bad of ['x', '0', '1.5']) {
      const response = await fetch(`${base}/admin/contacts/${bad}/history`)
      assert.equal(response.status, 400, bad)
      assert.equal((await response.json()).error.field, 'contactId', bad)
      const split = await fetch(`${base}/admin/customers/${bad}/split`, { method: 'POST', body: '{"contactIds":[2]}' })
      assert.equal((await split.json()).error.field, 'contactId', bad)
    }
    for (const body of ['{"contactIds":"2"}', '{"contactIds":[0]}', '{}']) {
      const response = await fetch(`${base}/admin/customers/1/split`, { method: 'POST', body })
      assert.equal(response.status, 400, body)
      assert.equal((await response.json()).error.field, 'contactIds', body)
    }
    for (const bad of ['x', '0']) {
      const erase = await fetch(`${base}/admin/customers/${bad}/erase`, { method: 'POST' })
      assert.equal((await erase.json()).error.field, 'contactId', bad)
    }
    for (const body of ['[]', '{"suppress":"yes"}']) {
      const response = await fetch(`${base}/admin/customers/1/erase`, { method: 'POST', body })
      assert.equal(response.status, 400, body)
      assert.equal((await response.json()).error.field, 'request', body)
    }
    const unknown = await fetch(`${base}/admin/customers/1/erase`, { method: 'POST' })
    assert.equal((await unknown.json()).error.code, 'not_found')
    for (const [body, field] of [['[]', 'request'], ['{"checkouts":5}', 'checkouts'], ['{"checkouts":[],"onError":"never"}', 'onError'], ['{"checkouts":[],"dryRun":"yes"}', 'request']]) {
      const response = await fetch(`${base}/admin/import`, { method: 'POST', body })
      assert.equal(response.status, 400, body)
      assert.equal((await response.json()).error.field, field, body)
    }
    // an import's body may pass the other routes' 16 kB
    const checkouts = Array.from({ length: 600 }, (_, i) => ({ email: `c${i}@x.io`, at: 1577836800 + i }))
    const history = JSON.stringify({ checkouts, dryRun: true })
    assert.ok(history.length > 16_384)
    const planned = await fetch(`${base}/admin/import`, { method: 'POST', body: history })
    assert.deepEqual([planned.status, (await planned.json()).rows], [200, 600])
    assert.equal(await (await fetch(`${base}/admin/export`)).text(), '')
  } finally {
    await close()
  }
})

test('GET /admin/backup answers a SQLite copy, erasures reach the log, a refused reapply changes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'identity-express-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const log = join(dir, 'erasures.jsonl')
  const [file, memory] = [await serve(`sqlite://${join(dir, 'live.db')}`, { erasureLog: log }), await serve('memory:')]
  try {
    await assertRestoreRoutes(file.base, memory.base, log)
  } finally {
    await file.close()
    await memory.close()
  }
})

test('core errors answer as the service does', async () => {
  const { fail } = await import('./app.mjs')
  const answered = (e) => {
    const res = { headers: {}, set(k, v) { this.headers[k] = v; return this }, status(s) { this.code = s; return this }, json(b) { this.body = b; return this } }
    fail(res, e)
    return [res.code, res.body.error.code, res.headers['Retry-After'], res.body.error.message]
  }
  const error = (code, message) => Object.assign(new Error(message), { code })
  assert.deepEqual(answered(error('UNAVAILABLE', 'database unavailable')), [503, 'unavailable', '2', 'database unavailable'])
  assert.deepEqual(answered(error('CLOSED', 'closed')), [503, 'unavailable', '2', 'closed'])
  assert.deepEqual(answered(error('CONTENTION', 'gave up')), [503, 'contention', '1', 'gave up'])
  const original = console.error
  console.error = () => {}
  try {
    for (const code of ['STORE', 'CORRUPT_DATA', 'INTERNAL', undefined]) {
      assert.deepEqual(answered(error(code, 'secret details')), [500, 'internal', undefined, 'internal server error'], String(code))
    }
  } finally {
    console.error = original
  }
  // and live: a closed store is unavailable
  const { base, close, identity } = await serve()
  try {
    await identity.close()
    const response = await fetch(`${base}/identify`, { method: 'POST', body: '{"email":"a@x.io"}' })
    assert.equal(response.status, 503)
    assert.equal(response.headers.get('retry-after'), '2')
    assert.equal((await response.json()).error.code, 'unavailable')
  } finally {
    await close()
  }
})

test('unknown routes answer a JSON 404, and the server binds where it says', async () => {
  const { base, close } = await serve()
  try {
    const response = await fetch(`${base}/nope`)
    assert.equal(response.status, 404)
    assert.match(response.headers.get('content-type'), /^application\/json/)
    assert.equal((await response.json()).error.code, 'not_found')
  } finally {
    await close()
  }
  // server.mjs on a free port: it listens on 127.0.0.1 and says so
  await assertBindsLoopback(join(import.meta.dirname, 'server.mjs'))
})
