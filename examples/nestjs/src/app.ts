// The application: IdentityModule on DATABASE_URL and the service's routes.
import 'reflect-metadata'
import { Module, type DynamicModule, type INestApplication } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import type { ConnectOptions } from 'identity-reconciliation'
import { IdentityExceptionFilter } from './errors.js'
import { IdentityHttpModule } from './identity-http.module.js'
import { IdentityModule } from './identity.module.js'

@Module({})
export class AppModule {
  /** The identity store at `url` (with `Identity.connect`'s options), and every route. */
  static forRoot(url: string, options: ConnectOptions = {}): DynamicModule {
    return { module: AppModule, imports: [IdentityModule.forRoot({ ...options, url }), IdentityHttpModule.register()] }
  }
}

/** A Nest application on the store at `url`, not yet listening; rejects with the core's error
 * when the store cannot be opened (instead of Nest's default, aborting the process). Nest's own
 * body parser is off: the routes read JSON whatever the Content-Type says, as the service does.
 * `options`: `Identity.connect`'s (`{ erasureLog }` keeps a record of every erase in that file). */
export async function createApp(url: string, options: ConnectOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forRoot(url, options), {
    abortOnError: false,
    bodyParser: false,
    logger: ['error', 'warn'],
  })
  // the filter also answers what fails before a route runs (unknown routes, the body's reading)
  app.useGlobalFilters(new IdentityExceptionFilter())
  app.enableShutdownHooks()
  return app
}
