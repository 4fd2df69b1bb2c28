// Starts the Nest application on a free port and replays every shared vector over HTTP (POST
// /identify and /api/identify in turn), then the module's own promises: errors in the service's
// shape, the body rules, the restore routes, IdentityModule.forRootAsync and injection, shutdown,
// where main binds.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import 'reflect-metadata'
import { Injectable, Module } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { signWebhook } from 'identity-reconciliation'
import { createApp } from '../dist/app.js'
import { IDENTITY, IdentityHttpModule, IdentityModule, InjectIdentity } from '../dist/index.js'
import { assertBindsLoopback, assertRestoreRoutes, replayVector, vectorFiles } from '../../http-vectors.mjs'

async function serve(url = 'sqlite::memory:', options = {}) {
  const app = await createApp(url, options)
  await app.listen(0, '127.0.0.1')
  const base = `http://127.0.0.1:${app.getHttpServer().address().port}`
  return { app, base, identity: app.get(IDENTITY), close: () => app.close() }
}

for (const file of vectorFiles()) {
  test(`vector ${file} over HTTP`, async () => {
    const { base, close } = await serve()
    try {
      await replayVector(base, file, { identifyPaths: ['/identify', '/identify', '/api/identify'], sign: signWebhook })
    } finally {
      await close()
    }
  })
}

test('bodies are read as the service reads them, and refused in its words', async () => {
  const { base, close } = await serve()
  try {
    // JSON whatever the Content-Type says
    const typed = await fetch(`${base}/identify`, {
      method: 'POST', body: '{"email":"a@x.io"}', headers: { 'Content-Type': 'application/json' },
    })
    assert.equal((await typed.json()).contact.primaryContactId, 1)
    const malformed = await fetch(`${base}/identify`, { method: 'POST', body: '{' })
    assert.equal(malformed.status, 400)
    assert.equal((await malformed.json()).error.code, 'malformed_json')
    const big = await fetch(`${base}/identify`, { method: 'POST', body: 'x'.repeat(20_000) })
    assert.equal(big.status, 413)
    assert.equal((await big.json()).error.code, 'payload_too_large')
    // an import may pass the other routes' 16 KiB (into an empty tenant)
    const checkouts = Array.from({ length: 600 }, (_, i) => ({ email: `c${i}@x.io`, at: 1577836800 + i }))
    const history = JSON.stringify({ checkouts, dryRun: true })
    assert.ok(history.length > 16_384)
    const planned = await fetch(`${base}/admin/import`, { method: 'POST', body: history, headers: { 'X-Tenant-Id': 'shop-42' } })
    assert.deepEqual([planned.status, (await planned.json()).rows], [200, 600])
    for (const bad of ['x', '0', '1.5']) {
      const response = await fetch(`${base}/admin/contacts/${bad}/history`)
      assert.equal(response.status, 400, bad)
      assert.equal((await response.json()).error.field, 'contactId', bad)
    }
    for (const body of ['[]', '{"suppress":"yes"}']) {
      const response = await fetch(`${base}/admin/customers/1/erase`, { method: 'POST', body })
      assert.equal(response.status, 400, body)
      assert.equal((await response.json()).error.field, 'request', body)
    }
    const tenant = await fetch(`${base}/identify`, { method: 'POST', body: '{"email":"a@x.io"}', headers: { 'X-Tenant-Id': 'no spaces' } })
    assert.deepEqual([tenant.status, (await tenant.json()).error.field], [400, 'tenant'])
    const unknown = await fetch(`${base}/nope`)
    assert.equal(unknown.status, 404)
    assert.match(unknown.headers.get('content-type'), /^application\/json/)
    assert.equal((await unknown.json()).error.code, 'not_found')
  } finally {
    await close()
  }
})

test('GET /admin/backup answers a SQLite copy, erasures reach the log, a refused reapply changes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'identity-nestjs-'))
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

test('core errors answer as the service does: a closed store is 503 unavailable', async () => {
  const { base, close, identity } = await serve()
  try {
    await identity.close()
    const response = await fetch(`${base}/api/identify`, { method: 'POST', body: '{"email":"a@x.io"}' })
    assert.equal(response.status, 503)
    assert.equal(response.headers.get('retry-after'), '2')
    assert.equal((await response.json()).error.code, 'unavailable')
  } finally {
    await close()
  }
})

test('an application injects the Identity, with options from a factory, and shutdown closes it', async () => {
  class Checkouts {
    constructor(identity) {
      this.identity = identity
    }

    record(email) {
      return this.identity.identify({ email })
    }
  }
  // plain JS: the decorators TypeScript would apply, spelled as calls
  Reflect.decorate([Injectable()], Checkouts)
  InjectIdentity()(Checkouts, undefined, 0)
  class Config {
    url = 'memory:'
  }
  class ConfigModule {}
  Reflect.decorate([Module({ providers: [Config], exports: [Config] })], ConfigModule)
  class ShopModule {}
  Reflect.decorate(
    [
      Module({
        imports: [
          IdentityModule.forRootAsync({ imports: [ConfigModule], inject: [Config], useFactory: (c) => ({ url: c.url, maxConnections: 2 }) }),
          IdentityHttpModule.register({ withAdmin: false }),
        ],
        providers: [Checkouts],
      }),
    ],
    ShopModule,
  )
  const app = await NestFactory.create(ShopModule, { bodyParser: false, logger: false, abortOnError: false })
  await app.listen(0, '127.0.0.1')
  const base = `http://127.0.0.1:${app.getHttpServer().address().port}`
  const identity = app.get(IDENTITY)
  assert.equal((await app.get(Checkouts).record('doc@x.io')).primaryContactId, 1)
  const answer = await (await fetch(`${base}/identify`, { method: 'POST', body: '{"email":"doc@x.io"}' })).json()
  assert.equal(answer.contact.primaryContactId, 1)
  // withAdmin: false mounts no admin route
  assert.equal((await fetch(`${base}/admin/export`)).status, 404)
  await app.close()
  await assert.rejects(identity.identify({ email: 'late@x.io' }), (e) => e.code === 'CLOSED')
})

test('a bad URL fails the start with the core error', async () => {
  await assert.rejects(createApp('mysql://nope'), (e) => e.code === 'INVALID_INPUT')
})

test('main.js listens on 127.0.0.1 and says so', async () => {
  await assertBindsLoopback(join(import.meta.dirname, '..', 'dist', 'main.js'))
})
