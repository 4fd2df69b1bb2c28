// The package under test. By default this source tree (`index.js`, with the addon that
// `napi build` put beside it). With IDENTITY_NODE_PROJECT=<dir>, the package as npm installed it
// into that project, resolved from there by name through its `exports`: how the test command
// replays these tests against the published artifacts instead of the source.
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const project = process.env.IDENTITY_NODE_PROJECT
const entry = project
  ? pathToFileURL(createRequire(join(project, 'package.json')).resolve('identity-reconciliation')).href
  : '../index.js'
const binding = (await import(entry)).default

/** The `Identity` class and the functions of the package under test. */
export const { Identity, readErasureLog, parseErasureLog, verifyWebhook, signWebhook } = binding
/** Where it was loaded from (for a test that checks which copy runs). */
export const loadedFrom = entry
