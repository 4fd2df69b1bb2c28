// Shared by the tests: a fresh PostgreSQL database per test, the vectors, the invariants in SQL,
// a deterministic workload and its union-find model.
import { readFileSync, readdirSync } from 'node:fs'
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

export const INVARIANTS = {
  'I2 secondary not linked to a visible primary': `
    SELECT count(*)::int AS n FROM contact s LEFT JOIN contact p ON p.id = s.linked_id
    WHERE s.deleted_at IS NULL AND s.linked_id IS NOT NULL
      AND (p.id IS NULL OR p.deleted_at IS NOT NULL OR p.linked_id IS NOT NULL OR p.link_precedence <> 'primary')`,
  'I1 secondary older than its primary': `
    SELECT count(*)::int AS n FROM contact s JOIN contact p ON p.id = s.linked_id
    WHERE s.deleted_at IS NULL AND (s.created_at, s.id) < (p.created_at, p.id)`,
  'I3 email in two customers': `
    SELECT count(*)::int AS n FROM (SELECT email FROM contact WHERE deleted_at IS NULL AND email IS NOT NULL
    GROUP BY email HAVING count(DISTINCT coalesce(linked_id, id)) > 1) x`,
  'I3 phone in two customers': `
    SELECT count(*)::int AS n FROM (SELECT phone_number FROM contact WHERE deleted_at IS NULL
    AND phone_number IS NOT NULL GROUP BY phone_number HAVING count(DISTINCT coalesce(linked_id, id)) > 1) x`,
  'I4 row that adds no new email or phone': `
    SELECT count(*)::int AS n FROM contact r WHERE r.deleted_at IS NULL
      AND (r.email IS NULL OR EXISTS (SELECT 1 FROM contact o WHERE o.deleted_at IS NULL AND o.id < r.id AND o.email = r.email))
      AND (r.phone_number IS NULL OR EXISTS (SELECT 1 FROM contact o WHERE o.deleted_at IS NULL AND o.id < r.id AND o.phone_number = r.phone_number))`,
}

/** Violation counts by invariant; all must be 0. */
export async function violations(db) {
  const out = {}
  for (const [name, sql] of Object.entries(INVARIANTS)) out[name] = (await db.query(sql))[0].n
  return out
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

/** The customers a set of requests must end up as: union-find over their identifiers. */
export function modelCustomers(requests) {
  const parent = new Map()
  const find = (x) => {
    if (!parent.has(x)) parent.set(x, x)
    while (parent.get(x) !== x) x = parent.get(x)
    return x
  }
  for (const r of requests) {
    const keys = [r.email && `e:${r.email}`, r.phoneNumber && `p:${r.phoneNumber}`].filter(Boolean)
    const roots = keys.map(find)
    for (const root of roots.slice(1)) parent.set(root, roots[0])
  }
  const groups = new Map()
  for (const k of parent.keys()) {
    const r = find(k)
    if (!groups.has(r)) groups.set(r, [])
    groups.get(r).push(k)
  }
  return [...groups.values()].map((g) => g.sort().join(',')).sort()
}

/** The customers stored in the table, in the same shape. */
export async function storedCustomers(db) {
  const rows = await db.query('SELECT id, linked_id, email, phone_number FROM contact WHERE deleted_at IS NULL')
  const groups = new Map()
  for (const r of rows) {
    const root = String(r.linked_id ?? r.id)
    if (!groups.has(root)) groups.set(root, new Set())
    if (r.email) groups.get(root).add(`e:${r.email}`)
    if (r.phone_number) groups.get(root).add(`p:${r.phone_number}`)
  }
  return [...groups.values()].map((g) => [...g].sort().join(',')).sort()
}
