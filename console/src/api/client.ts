// The one way the console talks to the api: openapi-fetch over the types generated from the api's OpenAPI
// document (`npm run api-types`), so a request or answer shape that drifts from the api fails the type check.

import createClient, { type Middleware } from 'openapi-fetch'
import { apiErrorText } from '@/i18n'
import type { components, paths } from './schema'

export type Schemas = components['schemas']

/** The api's error envelope, as an exception: pages show it (through [`messageOf`]) where the action failed. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

let tokenSource: () => string | null = () => null
let onExpired: () => void = () => {}

/** Wires the session: where the bearer token comes from and what a 401 on a signed-in request does. */
export function connectSession(token: () => string | null, expired: () => void): void {
  tokenSource = token
  onExpired = expired
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = tokenSource()
    if (token) request.headers.set('Authorization', `Bearer ${token}`)
    return request
  },
  onResponse({ request, response }) {
    if (response.status === 401 && request.headers.has('Authorization')) onExpired()
    return response
  },
}

export const api = createClient<paths>({ baseUrl: '' })
api.use(auth)

/** What to show where an action failed: the api's failure in the staff member's language (see [`apiErrorText`]),
 * or the error's own message. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiFailure) return apiErrorText(error.code, error.message)
  return error instanceof Error ? error.message : String(error)
}

/** The answer's data, or an [`ApiFailure`] carrying the api's code and own message. */
export async function must<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call
  if (response.ok) return data as T
  const body = (error ?? {}) as { code?: string; message?: string }
  throw new ApiFailure(response.status, body.code ?? 'error', body.message ?? response.statusText)
}

/**
 * A file the api makes (a report as a spreadsheet), signed in as the typed client is: the body as a blob, or an
 * [`ApiFailure`] from the api's error envelope. Such answers are not JSON, so they are not in the typed client.
 */
export async function fetchFile(path: string): Promise<Blob> {
  const token = tokenSource()
  const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} })
  if (response.status === 401 && token) onExpired()
  if (response.ok) return response.blob()
  const body = (await response.json().catch(() => ({}))) as { code?: string; message?: string }
  throw new ApiFailure(response.status, body.code ?? 'error', body.message ?? response.statusText)
}

/** A fresh idempotency key for one money-moving action (a retry of the same click reuses it). */
export function idempotencyKey(prefix: string): string {
  const random = crypto.getRandomValues(new Uint32Array(2))
  return `${prefix}-${Date.now().toString(36)}-${random[0]!.toString(36)}${random[1]!.toString(36)}`
}
