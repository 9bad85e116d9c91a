import { describe, expect, it } from 'vitest'
import { formatFen } from './money'

describe('formatFen', () => {
  it('shows yuan with two decimals', () => {
    expect(formatFen(380_000)).toBe('￥3,800.00')
    expect(formatFen(5)).toBe('￥0.05')
    expect(formatFen(-1250)).toBe('-￥12.50')
  })
})
