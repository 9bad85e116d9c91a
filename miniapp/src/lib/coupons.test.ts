import { describe, expect, it } from 'vitest'
import type { Schemas } from '@/api/client'
import { couponConditions, couponHeadline, couponValidity, offerAction } from './coupons'

const terms = (over: Partial<Schemas['TermsDto']>): Schemas['TermsDto'] => ({
  name: '券',
  kind: 'amount',
  value_fen: 2000,
  rate_bp: 10_000,
  threshold_fen: 0,
  scope: { store_ids: [], categories: [], service_ids: [], product_ids: [] },
  stacks_with_level: true,
  stacks_with_points: true,
  stacks_with_coupons: false,
  ...over,
})

describe('coupon wording', () => {
  it('names what each kind takes off', () => {
    expect(couponHeadline(terms({}))).toBe('￥20')
    expect(couponHeadline(terms({ value_fen: 990 }))).toBe('￥9.9')
    expect(couponHeadline(terms({ kind: 'percent', rate_bp: 8500 }))).toBe('8.5折')
    expect(couponHeadline(terms({ kind: 'spend_off', value_fen: 3000, threshold_fen: 20_000 }))).toBe('满￥200减￥30')
  })
  it('says the conditions a member must know before the counter', () => {
    expect(couponConditions(terms({}))).toBe('无门槛')
    expect(couponConditions(terms({ kind: 'percent', rate_bp: 8500, cap_fen: 5000, stacks_with_level: false }))).toBe('无门槛 · 最多减￥50 · 不与会员折扣同享')
    expect(couponConditions(terms({ threshold_fen: 10_000 }))).toBe('满￥100可用')
    expect(couponConditions(terms({ stacks_with_coupons: true }))).toBe('无门槛 · 可与其他券叠加')
  })
  it('says until when, or for how long once claimed', () => {
    expect(couponValidity('2026-12-31T15:59:59Z')).toBe('2026-12-31 到期')
    expect(couponValidity(null, 30)).toBe('领取后 30 天有效')
  })
})

describe('offerAction', () => {
  it('claims, exchanges for points or says why not', () => {
    const offer = { template_id: 1, terms: terms({}), per_member_limit: 1, claimed: 0, can_claim: true } as Schemas['CouponOfferDto']
    expect(offerAction(offer, 0)).toBe('领取')
    expect(offerAction({ ...offer, points_price: 300 }, 500)).toBe('300 积分兑换')
    expect(offerAction({ ...offer, points_price: 300 }, 299)).toBe('积分不足 300')
    expect(offerAction({ ...offer, can_claim: false, claimed: 1 }, 0)).toBe('已领取')
    expect(offerAction({ ...offer, can_claim: false }, 0)).toBe('已抢光')
  })
})
