// The member's session: kept in storage, signed in on first use and again when the api says it ended. How to sign
// in depends on where the app runs: WeChat (wx.login), Alipay (my.getAuthCode), or the H5 build next to the
// embedded default, through the sandbox with a device-local sandbox user.

import { call, useTransport } from '@/api/client'

const KEY = 'huiyuan.session'
const USER_KEY = 'huiyuan.sandbox-user'
export const DEMO_MERCHANT = Number(import.meta.env.VITE_MERCHANT_ID ?? 1)

interface Saved {
  token: string
  expiresAt: string
  memberId: number
}

let saved: Saved | null = read()
let signingIn: Promise<void> | null = null

function read(): Saved | null {
  const value = uni.getStorageSync(KEY) as Saved | '' | undefined
  return value && typeof value === 'object' ? value : null
}

/** Whether a kept session can still be used `now`; a minute's margin so a call never starts on a dying token. */
export function usable(session: Pick<Saved, 'expiresAt'> | null, now: Date): boolean {
  return !!session && new Date(session.expiresAt).getTime() - now.getTime() > 60_000
}

function keep(session: Saved | null) {
  saved = session
  if (session) uni.setStorageSync(KEY, session)
  else uni.removeStorageSync(KEY)
}

/** The platform's login code: `wx.login` in WeChat, `my.getAuthCode` in Alipay (uni.login picks the platform's own). */
function loginCode(): Promise<string> {
  return new Promise((resolve, reject) =>
    uni.login({ success: (answer) => resolve(answer.code), fail: (error) => reject(new Error(error.errMsg)) }),
  )
}

async function signIn(): Promise<void> {
  const platform = process.env.UNI_PLATFORM
  let answer: { token: string; expires_at: string; member_id: number }
  if (platform === 'mp-weixin') {
    const appid = uni.getAccountInfoSync().miniProgram.appId
    answer = await call('post', '/api/mini/v1/sessions/wechat', { body: { appid, code: await loginCode() } })
  } else if (platform === 'mp-alipay') {
    const appid = String(import.meta.env.VITE_ALIPAY_APPID ?? '')
    answer = await call('post', '/api/mini/v1/sessions/alipay', { body: { appid, auth_code: await loginCode() } })
  } else {
    let user = uni.getStorageSync(USER_KEY) as string
    if (!user) {
      user = `h5-${Math.random().toString(36).slice(2, 10)}`
      uni.setStorageSync(USER_KEY, user)
    }
    answer = await call('post', '/api/mini/v1/sessions/sandbox', { body: { merchant_id: DEMO_MERCHANT, user } })
  }
  keep({ token: answer.token, expiresAt: answer.expires_at, memberId: answer.member_id })
}

/** Drops the kept session (after deleting the account): the next page signs in afresh. */
export function forget(): void {
  keep(null)
}

/** A usable session, signing in (once, however many pages ask at the same time) when there is none. */
export async function ensureSession(): Promise<void> {
  if (usable(saved, new Date())) return
  signingIn ??= signIn().finally(() => (signingIn = null))
  await signingIn
}

useTransport({
  token: () => saved?.token ?? null,
  renew: async () => {
    keep(null)
    await ensureSession()
  },
})
