import { describe, expect, it } from 'vitest'
import { PaymentKeys } from './pay'

describe('PaymentKeys', () => {
  it('keeps one key per thing paid until its payment is settled', () => {
    const keys = new PaymentKeys()
    const first = keys.for('bill-7')
    expect(keys.for('bill-7')).toBe(first)
    expect(keys.for('plan-1')).not.toBe(first)
    keys.done('bill-7')
    expect(keys.for('bill-7')).not.toBe(first)
  })
})
