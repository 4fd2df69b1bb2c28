// `Identity.prototype.feed`: the change feed as an async iterator, written over the native
// `events()` (a long poll per page), so that `for await ... of` and `break` work as they do for
// any async generator.
'use strict'

/** The longest one page waits for new events, in seconds (the core's most). */
const MAX_WAIT = 30

function invalid(field, message) {
  const error = new Error(message)
  error.code = 'INVALID_INPUT'
  error.retryable = false
  error.field = field
  return error
}

/** Reads `feed()`'s options: `{ after?: string | null, idleTimeout?: number }`. */
function feedOptions(options) {
  if (options === undefined || options === null) return { after: null, idle: null }
  if (typeof options !== 'object') {
    throw invalid('request', 'invalid request: options must be an object like { after, idleTimeout }')
  }
  const { after = null, idleTimeout = null } = options
  if (after !== null && typeof after !== 'string') {
    throw invalid('after', 'invalid after: must be a cursor string')
  }
  if (idleTimeout !== null && !(typeof idleTimeout === 'number' && idleTimeout >= 0 && Number.isFinite(idleTimeout))) {
    throw invalid('idleTimeout', 'invalid idleTimeout: must be seconds, 0 or more')
  }
  return { after, idle: idleTimeout }
}

module.exports = function withFeed(binding) {
  binding.Identity.prototype.feed = function feed(options) {
    const { after: start, idle } = feedOptions(options)
    const identity = this
    return (async function* follow() {
      let after = start
      let quietSince = Date.now()
      for (;;) {
        const left = idle === null ? MAX_WAIT : Math.max(0, idle - (Date.now() - quietSince) / 1000)
        const page = await identity.events({ after, wait: Math.min(MAX_WAIT, left) })
        after = page.next
        if (page.events.length > 0) {
          for (const event of page.events) yield event
          quietSince = Date.now()
        } else if (idle !== null && (Date.now() - quietSince) / 1000 >= idle) {
          return
        }
      }
    })()
  }
  return binding
}
