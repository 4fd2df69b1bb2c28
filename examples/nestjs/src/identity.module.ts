// IdentityModule: one `Identity` (the Rust core through identity-reconciliation) for the whole
// application, injected where it is needed and closed when the application shuts down.
//
//   @Module({ imports: [IdentityModule.forRoot({ url: process.env.DATABASE_URL ?? 'sqlite:identity.db' })] })
//   export class AppModule {}
//
//   @Injectable()
//   export class CheckoutService {
//     constructor(@InjectIdentity() private readonly identity: Identity) {}
//   }
import {
  DynamicModule,
  Global,
  Inject,
  InjectionToken,
  Module,
  OnApplicationShutdown,
  OptionalFactoryDependency,
} from '@nestjs/common'
import { Identity, type ConnectOptions } from 'identity-reconciliation'

/** The injection token of the application's `Identity`. */
export const IDENTITY = Symbol('identity-reconciliation')

/** Where the store is and how to reach it: the same URLs and options as `Identity.connect`. */
export interface IdentityModuleOptions extends ConnectOptions {
  /** `postgres://...`, `sqlite:path`, `sqlite::memory:` or `memory:`. */
  url: string
}

/** For options that come from elsewhere (a ConfigService): a factory and what it injects. */
export interface IdentityModuleAsyncOptions {
  imports?: DynamicModule['imports']
  inject?: Array<InjectionToken | OptionalFactoryDependency>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- what `inject` gives, in order
  useFactory: (...args: any[]) => IdentityModuleOptions | Promise<IdentityModuleOptions>
}

/** Injects the application's `Identity`: `constructor(@InjectIdentity() identity: Identity)`. */
export const InjectIdentity = (): ParameterDecorator => Inject(IDENTITY)

async function connect({ url, ...options }: IdentityModuleOptions): Promise<Identity> {
  return Identity.connect(url, options)
}

@Global()
@Module({})
export class IdentityModule implements OnApplicationShutdown {
  constructor(@Inject(IDENTITY) private readonly identity: Identity) {}

  /** Connects once at start-up (a bad URL or an unreachable database fails the start). */
  static forRoot(options: IdentityModuleOptions): DynamicModule {
    return {
      module: IdentityModule,
      providers: [{ provide: IDENTITY, useFactory: () => connect(options) }],
      exports: [IDENTITY],
    }
  }

  /** Like `forRoot`, with the options from a factory (e.g. `ConfigService`). */
  static forRootAsync(options: IdentityModuleAsyncOptions): DynamicModule {
    return {
      module: IdentityModule,
      imports: options.imports ?? [],
      providers: [
        {
          provide: IDENTITY,
          inject: options.inject ?? [],
          useFactory: async (...args: unknown[]) => connect(await options.useFactory(...args)),
        },
      ],
      exports: [IDENTITY],
    }
  }

  /** Closes the connections (`app.enableShutdownHooks()` runs this on SIGTERM). */
  async onApplicationShutdown(): Promise<void> {
    await this.identity.close()
  }
}
