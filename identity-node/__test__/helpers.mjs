// Shared by the tests: a fresh PostgreSQL database per test, the vectors, a deterministic
// workload, and the shared test oracle (invariants in SQL, customers against a union-find).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import pg from 'pg'

const here = dirname(fileURLToPath(import.meta.url))
export const VECTOR_DIR = join(here, '..', '..', 'tests', 'vectors')
export const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export function vectorFiles() {
  const files = readdirSync(VECTOR_DIR).filter((f) => f.endsWith('.json')).sort()
  if (files.length < 10) throw new Error(`vector files missing in ${VECTOR_DIR}`)
  return files.map((f) => ({ name: f, ...JSON.parse(readFileSync(join(VECTOR_DIR, f), 'utf8')) }))
}

function withDatabase(url, name) {
  const [base, query] = url.split('?')
  const [scheme, rest] = base.split('://')
  const authority = rest.split('/')[0]
  return `${scheme}://${authority}/${name}${query ? `?${query}` : ''}`
}

/** Creates a database for one test; `drop()` removes it. */
export async function freshDatabase() {
  const name = `identity_node_${randomBytes(8).toString('hex')}`
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = withDatabase(ADMIN_URL, name)
  return {
    url,
    async query(sql, params) {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        return (await client.query(sql, params)).rows
      } finally {
        await client.end()
      }
    },
    async drop() {
      const a = new pg.Client({ connectionString: ADMIN_URL })
      await a.connect()
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await a.end()
    },
  }
}

/**
 * The invariants I1-I4 hold in SQL (within every tenant) and, given every request sent (each
 * with an optional `tenant`), each tenant's stored customers are the union-find over its requests: checked by the one oracle the Rust, Python and Node suites share
 * (`identity-oracle`, built from the Rust testkit by scripts/test). Throws with its report.
 */
export function assertOracle(db, requests) {
  const oracle = process.env.IDENTITY_ORACLE
  if (!oracle || !existsSync(oracle)) throw new Error('set IDENTITY_ORACLE to the identity-oracle binary (scripts/test builds it)')
  const args = ['check', db.url, ...(requests ? ['--requests'] : [])]
  const input = (requests ?? []).map((r) => JSON.stringify({ email: r.email ?? null, phoneNumber: r.phoneNumber ?? null, tenant: r.tenant ?? 'default' }) + '\n').join('')
  const done = spawnSync(oracle, args, { input, encoding: 'utf8', timeout: 120_000 })
  if (done.status !== 0) throw new Error(`oracle: ${done.stdout}${done.stderr}`)
}

/** Deterministic requests over small identifier pools that change every `perNamespace`. */
export function workload(seed, count, identifiers = 6, perNamespace = 10) {
  let state = (seed * 2654435761 + 1) >>> 0 || 1
  const next = () => {
    state ^= state << 13; state >>>= 0
    state ^= state >>> 17
    state ^= state << 5; state >>>= 0
    return state
  }
  const out = []
  for (let i = 0; i < count; i++) {
    const ns = Math.floor(i / perNamespace)
    const email = `c${next() % identifiers}.n${ns}@shop.test`
    const phone = `${ns}555${String(next() % identifiers).padStart(3, '0')}`
    const kind = next() % 100
    out.push(kind < 70 ? { email, phoneNumber: phone } : kind < 85 ? { email } : { phoneNumber: phone })
  }
  return out
}

// I3 as a split leaves it: no unblocked value in two customers (count of violations)
export const I3_UNBLOCKED = `
SELECT count(*)::int AS n FROM (
  SELECT 1 FROM contact c WHERE deleted_at IS NULL AND phone_number IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM identity_blocked b WHERE b.tenant_id = c.tenant_id
                    AND b.kind = 'phone' AND NOT b.pattern AND b.value = c.phone_number)
  GROUP BY tenant_id, phone_number HAVING count(DISTINCT coalesce(linked_id, id)) > 1
  UNION ALL
  SELECT 1 FROM contact c WHERE deleted_at IS NULL AND email IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM identity_blocked b WHERE b.tenant_id = c.tenant_id
                    AND b.kind = 'email' AND NOT b.pattern AND b.value = c.email)
  GROUP BY tenant_id, email HAVING count(DISTINCT coalesce(linked_id, id)) > 1) x`

// I1 and I2: every secondary links to a primary older than itself (count of violations)
export const I1_I2 = `
SELECT count(*)::int AS n FROM contact s LEFT JOIN contact p ON p.id = s.linked_id
WHERE s.deleted_at IS NULL AND s.linked_id IS NOT NULL
  AND (p.id IS NULL OR p.linked_id IS NOT NULL OR (s.created_at, s.id) < (p.created_at, p.id))`

// every customer's history explains exactly its rows: those created in it (or in a customer it
// absorbed) and moved into it by splits, less those moved out or erased
export async function assertHistoriesExplainRows(ident, db) {
  const rows = await db.query('SELECT id::int, coalesce(linked_id, id)::int AS primary FROM contact WHERE deleted_at IS NULL')
  const customers = new Map()
  for (const r of rows) customers.set(r.primary, [...(customers.get(r.primary) ?? []), r.id])
  for (const [primary, members] of customers) {
    const history = await ident.history(primary)
    const rowsOf = new Set()
    for (const e of history.events) {
      if (e.type === 'split_off') for (const id of e.movedIds) rowsOf.delete(id)
      else if (e.type === 'erased') for (const id of e.erasedIds) rowsOf.delete(id)
      else if (e.type === 'split_from') for (const id of e.movedIds) rowsOf.add(id)
      else if (e.contactId !== undefined) rowsOf.add(e.contactId)
    }
    assert.deepEqual([...rowsOf].sort((a, b) => a - b), members.sort((a, b) => a - b), `customer ${primary}`)
  }
}
