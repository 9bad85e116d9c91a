// The member API over `uni.request` (fetch-based clients do not run inside WeChat or Alipay), typed by the
// OpenAPI document (`npm run api-types`): a path, method, body or answer that drifts from the api fails the type
// check.

import type { components, paths } from './schema'

export type Schemas = components['schemas']
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete'
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>
type JsonOf<T> = T extends { content: { 'application/json': infer J } } ? J : undefined
type Answer<O> = O extends { responses: infer R }
  ? 200 extends keyof R
    ? JsonOf<R[200]>
    : 201 extends keyof R
      ? JsonOf<R[201]>
      : undefined
  : never
type Body<O> = O extends { requestBody: infer B } ? JsonOf<NonNullable<B>> : never
type PathParams<O> = O extends { parameters: { path: infer P } } ? P : never
type QueryParams<O> = O extends { parameters: { query?: infer Q } } ? Q : never

export interface Options<O> {
  path?: PathParams<O>
  query?: QueryParams<O>
  body?: Body<O>
}

/** The api's `{code, message}` envelope as an exception; pages show `message`. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** What to show where an action failed: the api's own message, or the error's. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Where the api is: the same origin in the H5 build the api serves; configured for the mini-program builds. */
export const API_BASE: string = process.env.UNI_PLATFORM === 'h5' ? '' : (import.meta.env.VITE_API_BASE ?? 'https://huiyuan.example.com')

/** "/api/mini/v1/me/bookings/{id}" with `{id: 7}` → "/api/mini/v1/me/bookings/7", plus the query string. */
export function urlFor(template: string, path?: Record<string, unknown>, query?: Record<string, unknown>): string {
  const filled = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(path?.[name] ?? '')))
  const pairs = Object.entries(query ?? {})
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
  return pairs.length ? `${filled}?${pairs.join('&')}` : filled
}

export interface Transport {
  token(): string | null
  /** The session ended: sign in again; resolves when there is a new token. */
  renew(): Promise<void>
}

let transport: Transport = { token: () => null, renew: async () => {} }
export function useTransport(next: Transport): void {
  transport = next
}

function send(method: Method, url: string, body: unknown, token: string | null): Promise<{ status: number; data: unknown }> {
  return new Promise((resolve, reject) => {
    uni.request({
      url: API_BASE + url,
      method: method.toUpperCase() as 'GET',
      data: body as object | undefined,
      header: token ? { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } : { 'Content-Type': 'application/json' },
      success: (answer) => resolve({ status: answer.statusCode, data: answer.data }),
      fail: (error) => reject(new ApiFailure(0, 'network', error.errMsg)),
    })
  })
}

/** One call; a 401 on a signed-in call signs in again once and repeats it, so an expired session never loses the page. */
export async function call<P extends keyof paths, M extends Method>(
  method: M,
  path: P,
  options: Options<Operation<P, M>> = {},
): Promise<Answer<Operation<P, M>>> {
  const url = urlFor(path as string, options.path as Record<string, unknown>, options.query as Record<string, unknown>)
  let answer = await send(method, url, options.body, transport.token())
  if (answer.status === 401 && transport.token()) {
    await transport.renew()
    answer = await send(method, url, options.body, transport.token())
  }
  if (answer.status >= 200 && answer.status < 300) return answer.data as Answer<Operation<P, M>>
  const envelope = (answer.data ?? {}) as { code?: string; message?: string }
  throw new ApiFailure(answer.status, envelope.code ?? 'error', envelope.message ?? `HTTP ${answer.status}`)
}
