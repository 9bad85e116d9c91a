import { describe, expect, it } from 'vitest'
import { discountLabel, formatFen, parseYuan } from './money'

describe('formatFen', () => {
  it('shows yuan with two decimals', () => {
    expect(formatFen(380_000)).toBe('￥3,800.00')
    expect(formatFen(5)).toBe('￥0.05')
    expect(formatFen(-1250)).toBe('-￥12.50')
  })
})

describe('parseYuan', () => {
  it('reads yuan as typed into fen without floating point', () => {
    expect(parseYuan('12.3')).toBe(1230)
    expect(parseYuan(' 0.07 ')).toBe(7)
    expect(parseYuan('200')).toBe(20_000)
    // 19.99 × 100 in floating point is 1998.9999…
    expect(parseYuan('19.99')).toBe(1999)
  })
  it('refuses what is not an amount', () => {
    for (const text of ['', 'abc', '1.234', '-5', '1e3', '12345678']) expect(parseYuan(text)).toBeNull()
  })
})

describe('discountLabel', () => {
  it('names a discount the way stores say it', () => {
    expect(discountLabel(9000)).toBe('9折')
    expect(discountLabel(9500)).toBe('9.5折')
    expect(discountLabel(8850)).toBe('8.85折')
    expect(discountLabel(10_000)).toBeNull()
  })
})
