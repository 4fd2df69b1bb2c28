// Request bodies as the service reads them: JSON (or JSON Lines) whatever the Content-Type says
// (many clients forget the header), 16 KiB at most, 64 MiB for an import or a reapply, 16 MiB for
// a split; malformed JSON is a 400.
import { createParamDecorator, ExecutionContext, Injectable, NestMiddleware } from '@nestjs/common'
import express, { type NextFunction, type Request, type Response } from 'express'
import { WireError } from './errors.js'

const KIB = 1024

function textParser(limit: number): (req: Request, res: Response) => Promise<void> {
  const parse = express.text({ type: () => true, limit })
  return (req, res) =>
    new Promise((resolve, reject) => {
      parse(req, res, (err?: unknown) => (err ? reject(err) : resolve()))
    })
}

const small = textParser(16 * KIB)
const split = textParser(16 * KIB * KIB)
const large = textParser(64 * KIB * KIB)

/** The body limit of a path, as the Rust service sets them. */
const limitOf = (path: string): number =>
  path === '/admin/import' || path === '/admin/erasures/reapply'
    ? 64 * KIB * KIB
    : /^\/admin\/customers\/[^/]+\/split$/.test(path) ? 16 * KIB * KIB : 16 * KIB

/**
 * Reads the body as text (an import or a reapply takes up to 64 MiB, a split a customer's ids up
 * to 16 MiB, the others 16 KiB).
 */
@Injectable()
export class TextBodyMiddleware implements NestMiddleware {
  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    // originalUrl: Nest mounts this middleware on a path, so req.path is relative to it
    const path = req.originalUrl.split('?')[0]
    const limit = limitOf(path)
    try {
      await (limit === 16 * KIB ? small : limit === 16 * KIB * KIB ? split : large)(req, res)
    } catch (e) {
      const err = e as { status?: number; type?: string; message?: string }
      if (err.status === 413) throw new WireError(413, 'payload_too_large', `request body is larger than ${limit / KIB} KiB`)
      throw new WireError(err.status ?? 400, err.type ?? 'invalid_input', err.message ?? 'unreadable request body')
    }
    next()
  }
}

/** The body as JSON; `empty` is what an empty body reads as (absent: empty is malformed). */
export const JsonBody = createParamDecorator((empty: unknown, ctx: ExecutionContext): unknown => {
  const body: unknown = ctx.switchToHttp().getRequest<Request>().body
  const text = typeof body === 'string' ? body : ''
  if (empty !== undefined && text.trim() === '') return empty
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new WireError(400, 'malformed_json', `request body is not valid JSON: ${(e as Error).message}`)
  }
})

/** The body as text (JSON Lines, say), empty when there is none. */
export const TextBody = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  const body: unknown = ctx.switchToHttp().getRequest<Request>().body
  return typeof body === 'string' ? body : ''
})
