// Paying in the wallet: WeChat Pay's requestPayment, Alipay's tradePay, or in the H5 build the sandbox's page. The
// api learns the outcome from the provider, never from the app, so after the sheet closes the app asks the api
// until the payment is no longer pending.

import { call, type Schemas } from '@/api/client'

export const provider: 'alipay' | 'wechatpay' = process.env.UNI_PLATFORM === 'mp-alipay' ? 'alipay' : 'wechatpay'

/** A fresh idempotency key (a booking, a payment). */
export function tapKey(kind: string): string {
  return `${kind}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
}

/**
 * One key per thing being paid (a bill, a plan, an amount) until its payment is settled either way: tapping
 * again, or coming back after closing the wallet, returns the same order instead of starting a second one.
 */
export class PaymentKeys {
  private keys = new Map<string, string>()

  for(what: string): string {
    let key = this.keys.get(what)
    if (!key) {
      key = tapKey('pay')
      this.keys.set(what, key)
    }
    return key
  }

  done(what: string): void {
    this.keys.delete(what)
  }
}

/** Opens the wallet for a started payment; resolves when the member is done with it. */
export function openWallet(started: Schemas['MiniPaymentDto']): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.env.UNI_PLATFORM === 'h5') {
      // Development: the sandbox plays the wallet on a page of its own.
      if (started.sandbox_page) window.open(started.sandbox_page, '_blank')
      return resolve()
    }
    const done = { success: () => resolve(), fail: (error: { errMsg: string }) => reject(new Error(error.errMsg)) }
    if (provider === 'alipay') {
      uni.requestPayment({ provider: 'alipay', orderInfo: started.alipay_trade_no ?? '', ...done })
    } else {
      const w = started.wechat
      if (!w) return reject(new Error('no longer pending'))
      uni.requestPayment({ provider: 'wxpay', timeStamp: w.timeStamp, nonceStr: w.nonceStr, package: w.package, signType: w.signType, paySign: w.paySign, orderInfo: '', ...done })
    }
  })
}

/**
 * Follows a payment until the api has heard from the provider (its notification, or its own query), reporting
 * each state; resolves with the paid payment, rejects when it failed or closed. `stopped` ends it early (the page
 * was left).
 */
export async function followPayment(
  id: number,
  onState: (payment: Schemas['PaymentDto']) => void,
  stopped: () => boolean,
): Promise<Schemas['PaymentDto'] | null> {
  for (let i = 0; i < 120 && !stopped(); i++) {
    const payment = await call('get', '/api/mini/v1/me/payments/{id}', { path: { id } })
    onState(payment)
    if (payment.status === 'paid') return payment
    if (payment.status !== 'pending') throw new Error(payment.failure ?? '支付未完成')
    await new Promise((r) => setTimeout(r, 1500))
  }
  return null
}
