// How members read a coupon: what it takes off and when it can be used. The server decides; this only words it.

import type { Schemas } from '@/api/client'
import { discountLabel, formatFen } from './money'

/** Yuan without trailing zeros for a coupon's face: ￥20, ￥9.9. */
function face(fen: number): string {
  return formatFen(fen).replace(/\.00$/, '').replace(/(\.\d)0$/, '$1')
}

/** The headline: "￥20", "85折", "满￥200减￥30", "免费体验". */
export function couponHeadline(terms: Schemas['TermsDto']): string {
  switch (terms.kind) {
    case 'amount':
      return face(terms.value_fen)
    case 'percent':
      return discountLabel(terms.rate_bp) ?? '折扣'
    case 'spend_off':
      return `满${face(terms.threshold_fen)}减${face(terms.value_fen)}`
    case 'free_item':
      return '免费体验'
  }
}

/** The conditions under the headline: threshold, cap, whether it combines with the level discount, points and other
 * coupons (one coupon per bill unless it says so). */
export function couponConditions(terms: Schemas['TermsDto']): string {
  const parts: string[] = []
  if (terms.kind !== 'spend_off') parts.push(terms.threshold_fen > 0 ? `满${face(terms.threshold_fen)}可用` : '无门槛')
  if (terms.kind === 'percent' && terms.cap_fen) parts.push(`最多减${face(terms.cap_fen)}`)
  if (!terms.stacks_with_level) parts.push('不与会员折扣同享')
  if (!terms.stacks_with_points) parts.push('不与积分抵扣同享')
  if (terms.stacks_with_coupons) parts.push('可与其他券叠加')
  return parts.join(' · ')
}

/** "2026-12-31 到期" for a coupon held; "领取后 30 天有效" for one on offer. */
export function couponValidity(validUntil: string | null | undefined, validDays?: number | null): string {
  if (validUntil) {
    // The last day in the phone's zone, which is the store's for members at the store.
    const at = new Date(validUntil)
    const pad = (n: number) => String(n).padStart(2, '0')
    return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} 到期`
  }
  return validDays ? `领取后 ${validDays} 天有效` : ''
}

/** The coupon center's button: claim, exchange for points (or say how many are missing), or why not. */
export function offerAction(offer: Schemas['CouponOfferDto'], points: number): string {
  if (!offer.can_claim) return offer.claimed ? '已领取' : '已抢光'
  if (!offer.points_price) return '领取'
  return offer.points_price > points ? `积分不足 ${offer.points_price}` : `${offer.points_price} 积分兑换`
}
