import { describe, expect, it } from 'vitest'
import { fenToInput, formatFen, parseYuan } from './money'

describe('formatFen', () => {
  it('shows yuan with two decimals and a thousands separator', () => {
    expect(formatFen(1234)).toBe('￥12.34')
    expect(formatFen(5)).toBe('￥0.05')
    expect(formatFen(123456789)).toBe('￥1,234,567.89')
    expect(formatFen(-250)).toBe('-￥2.50')
    expect(formatFen(0)).toBe('￥0.00')
  })
})

describe('parseYuan', () => {
  it('reads what a cashier types', () => {
    expect(parseYuan('12')).toBe(1200)
    expect(parseYuan('12.3')).toBe(1230)
    expect(parseYuan('12.34')).toBe(1234)
    expect(parseYuan(' ￥1,234.50 ')).toBe(123450)
    expect(parseYuan('0.01')).toBe(1)
  })

  it('refuses what is not an amount instead of guessing', () => {
    for (const bad of ['', 'abc', '12.345', '-5', '1e3', '12.', '.5', '100000001']) {
      expect(parseYuan(bad), bad).toBeNull()
    }
  })

  it('never goes through floating point: 0.1 + 0.2 style amounts stay exact', () => {
    expect(parseYuan('0.29')).toBe(29)
    expect(parseYuan('1.15')).toBe(115)
    expect(parseYuan('4.35')).toBe(435)
  })

  it('round-trips with fenToInput', () => {
    for (const fen of [0, 1, 99, 100, 1234, 1000000]) {
      expect(parseYuan(fenToInput(fen))).toBe(fen)
    }
  })
})
