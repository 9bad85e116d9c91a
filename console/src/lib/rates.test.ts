import { describe, expect, it } from 'vitest'
import { bpToPercent, bpToZhe, percentToBp, tierFromForm, tierToForm, zheToBp } from './rates'

describe('percent', () => {
  it('reads basis points as a percentage and back', () => {
    expect(bpToPercent(1000)).toBe(10)
    expect(bpToPercent(850)).toBe(8.5)
    expect(bpToPercent(1)).toBe(0.01)
    expect(percentToBp(10)).toBe(1000)
    expect(percentToBp(8.5)).toBe(850)
    expect(percentToBp(0.07)).toBe(7) // 0.07 * 100 is 7.000000000000001
    expect(percentToBp(bpToPercent(1234))).toBe(1234)
  })
})

describe('折', () => {
  it('reads a level discount in tenths of the price and back', () => {
    expect(bpToZhe(9000)).toBe(9)
    expect(bpToZhe(9500)).toBe(9.5)
    expect(bpToZhe(10000)).toBe(10)
    expect(zheToBp(9)).toBe(9000)
    expect(zheToBp(8.8)).toBe(8800)
    expect(zheToBp(9.55)).toBe(9550)
    expect(zheToBp(bpToZhe(8750))).toBe(8750)
  })
})

describe('commission tiers', () => {
  it('shows a percent tier as a percentage and sends basis points', () => {
    const form = tierToForm({ from_fen: 500000, value: 1000 }, 'percent')
    expect(form).toEqual({ from_fen: 500000, percent: 10, fixed_fen: null })
    expect(tierFromForm({ ...form, percent: 12.5 }, 'percent')).toEqual({ from_fen: 500000, value: 1250 })
  })

  it('keeps a fixed tier in fen', () => {
    const form = tierToForm({ from_fen: 0, value: 1500 }, 'fixed')
    expect(form).toEqual({ from_fen: 0, percent: null, fixed_fen: 1500 })
    expect(tierFromForm(form, 'fixed')).toEqual({ from_fen: 0, value: 1500 })
  })

  it('sends nothing while an amount or the rate of the mode is missing', () => {
    expect(tierFromForm({ from_fen: null, percent: 10, fixed_fen: null }, 'percent')).toBeNull()
    expect(tierFromForm({ from_fen: 0, percent: null, fixed_fen: 100 }, 'percent')).toBeNull()
    expect(tierFromForm({ from_fen: 0, percent: 10, fixed_fen: null }, 'fixed')).toBeNull()
  })
})
