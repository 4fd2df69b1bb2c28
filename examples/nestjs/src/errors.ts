// Every error as the Rust service answers it: `{ "error": { code, message, field?, fields? } }`
// with the service's status for each core kind (and Retry-After where it says when to retry).
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common'
import type { Response } from 'express'

// each core kind (the binding's `code`): status, wire code, Retry-After seconds; any other
// (STORE, CORRUPT_DATA, INTERNAL, or not a core error) is a 500 that says nothing
const KINDS: Record<string, [number, string, number?]> = {
  INVALID_INPUT: [400, 'invalid_input'],
  BLOCKED_VALUE: [422, 'blocked_value'],
  CONFLICT: [409, 'conflict'],
  NOT_FOUND: [404, 'not_found'],
  EXPIRED: [410, 'expired'],
  UNAVAILABLE: [503, 'unavailable', 2],
  CLOSED: [503, 'unavailable', 2],
  CONTENTION: [503, 'contention', 1],
}

// Nest's own HTTP errors (unknown route, body too large) by status, in the service's words
const HTTP_CODES: Record<number, string> = { 404: 'not_found', 405: 'method_not_allowed', 413: 'payload_too_large' }

/** The wire error: what a route answers when it refuses. */
export class WireError extends HttpException {
  constructor(status: number, code: string, message: string, field?: string) {
    super({ error: { code, message, field } }, status)
  }
}

/** A refusal of the request's shape, before the core sees it (as the service words it). */
export const invalidRequest = (message: string): WireError =>
  new WireError(400, 'invalid_input', `invalid request: ${message}`, 'request')

/** Maps core errors and Nest's HTTP errors to the service's status, code and body. */
@Catch()
export class IdentityExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('identity')

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>()
    if (exception instanceof HttpException) {
      const body = exception.getResponse()
      const status = exception.getStatus()
      if (exception instanceof WireError) {
        res.status(status).json(body)
      } else {
        const code = HTTP_CODES[status] ?? (status >= 500 ? 'internal' : 'invalid_input')
        res.status(status).json({ error: { code, message: exception.message } })
      }
      return
    }
    const e = exception as { code?: string; message?: string; field?: string; fields?: string[] }
    const [status, code, retryAfter] = KINDS[e.code ?? ''] ?? [500, 'internal']
    if (retryAfter !== undefined) res.set('Retry-After', String(retryAfter))
    if (status === 500) this.logger.error(`request failed: ${e.message} (${e.code ?? 'no code'})`)
    res.status(status).json({
      error: {
        code,
        message: status === 500 ? 'internal server error' : e.message,
        field: e.field,
        fields: e.fields,
      },
    })
  }
}
