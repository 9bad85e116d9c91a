import { describe, expect, it } from 'vitest'
import { routeScan } from './scan'

describe('routeScan', () => {
  it('opens a member, adds a product or charges the bill on screen', () => {
    expect(routeScan('member_code', 'HY123', { lineCount: 0 })).toEqual({ do: 'open_member', code: 'HY123' })
    expect(routeScan('product_barcode', '6901234567892', { lineCount: 0 })).toEqual({
      do: 'add_product',
      barcode: '6901234567892',
    })
    expect(routeScan('wechat_pay_code', '134567890123456789', { lineCount: 2 })).toEqual({
      do: 'charge',
      authCode: '134567890123456789',
    })
    expect(routeScan('alipay_code', '281234567890123456', { lineCount: 1 })).toEqual({
      do: 'charge',
      authCode: '281234567890123456',
    })
  })

  it('never keeps a payment code for later when there is no bill to charge', () => {
    expect(routeScan('wechat_pay_code', '134567890123456789', { lineCount: 0 })).toEqual({
      do: 'refuse',
      reason: 'nothing_to_charge',
    })
  })

  it('takes a typed phone number as a member search, and refuses anything else it does not know', () => {
    expect(routeScan('unknown', '13800000002', { lineCount: 0 })).toEqual({ do: 'find_member', query: '13800000002' })
    expect(routeScan('unknown', '23800000002', { lineCount: 0 })).toEqual({ do: 'refuse', reason: 'unknown_code' })
    expect(routeScan('coupon', 'X', { lineCount: 1 })).toEqual({ do: 'refuse', reason: 'unknown_code' })
  })
})
