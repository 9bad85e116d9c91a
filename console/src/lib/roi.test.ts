// @vitest-environment jsdom
import { afterEach, describe, expect, it } from 'vitest'
import { i18n } from '@/i18n'
import {
  averageYuan,
  detectableNote,
  percent,
  pointsInterval,
  rangeText,
  rateInterval,
  roiParts,
  pointsParts,
  yuanParts,
  roiInterval,
  signedPercent,
  signedPoints,
  signedYuan,
  verdictLabel,
  verdictType,
  yuanInterval,
} from './roi'

afterEach(() => {
  i18n.global.locale.value = 'zh-CN'
})

describe('visit rates', () => {
  it('shows a difference in percentage points with its interval, signs on both sides of zero', () => {
    expect(pointsInterval({ estimate: 0.023, low: -0.011, high: 0.057 })).toBe('+2.3 个百分点（-1.1 ~ +5.7）')
    expect(pointsInterval({ estimate: -0.15, low: -0.4, high: -0.02 })).toBe('-15.0 个百分点（-40.0 ~ -2.0）')
  })

  it('never writes a sign on a difference that rounds to zero', () => {
    expect(signedPoints(0)).toBe('0.0')
    expect(signedPoints(-0.0004)).toBe('0.0')
    expect(signedPoints(0.0006)).toBe('+0.1')
  })

  it('shows a group rate as a percentage with its interval', () => {
    expect(percent(1 / 3)).toBe('33.3%')
    expect(rateInterval({ estimate: 1 / 3, low: 0.1, high: 0.7 })).toBe('33.3%（10.0% ~ 70.0%）')
  })

  it('shows a dash where the server has no figure', () => {
    expect(pointsInterval(null)).toBe('—')
    expect(pointsInterval(undefined)).toBe('—')
    expect(rateInterval(null)).toBe('—')
  })

  it('speaks English too', () => {
    i18n.global.locale.value = 'en'
    expect(pointsInterval({ estimate: 0.023, low: -0.011, high: 0.057 })).toBe('+2.3 pts (-1.1 to +5.7)')
  })
})

describe('money', () => {
  it('shows fractional fen per member as yuan to the nearest fen, signed', () => {
    expect(signedYuan(1234.4)).toBe('+￥12.34')
    expect(signedYuan(1234.5)).toBe('+￥12.35')
    expect(signedYuan(-320)).toBe('-￥3.20')
    expect(signedYuan(-0.3)).toBe('￥0.00')
    expect(signedYuan(0)).toBe('￥0.00')
  })

  it('shows a lift in yuan with its interval', () => {
    expect(yuanInterval({ estimate: 1234.4, low: -320, high: 2800 })).toBe('+￥12.34（-￥3.20 ~ +￥28.00）')
    expect(yuanInterval({ estimate: -150_000, low: -420_000.6, high: -1 })).toBe('-￥1,500.00（-￥4,200.01 ~ -￥0.01）')
    expect(yuanInterval(null)).toBe('—')
  })

  it('shows an average, or a dash for an empty group', () => {
    expect(averageYuan(2666.666)).toBe('￥26.67')
    expect(averageYuan(-0.2)).toBe('￥0.00')
    expect(averageYuan(null)).toBe('—')
  })
})

describe('return on cost', () => {
  it('shows net ÷ cost as a signed percent with its interval', () => {
    expect(signedPercent(0.5)).toBe('+50%')
    expect(roiInterval({ estimate: 0.5, low: -1.5, high: 2.5 })).toBe('+50%（-150% ~ +250%）')
    expect(roiInterval({ estimate: -0.8, low: -1.2, high: -0.4 })).toBe('-80%（-120% ~ -40%）')
  })

  it('says there was no cost when there is no ratio', () => {
    expect(roiInterval(null)).toBe('无成本')
    i18n.global.locale.value = 'en'
    expect(roiInterval(undefined)).toBe('No cost')
  })
})

describe('verdict', () => {
  it('names each verdict and gives it a colour', () => {
    expect(verdictLabel('positive')).toBe('正向：活动带来了净收益')
    expect(verdictLabel('negative')).toBe('负向：活动成本超过了带来的收入')
    expect(verdictLabel('inconclusive')).toBe('尚无定论：区间跨过 0，数据还不能判断')
    expect(verdictLabel('not_enough_data')).toBe('数据不足')
    expect(verdictType('positive')).toBe('success')
    expect(verdictType('negative')).toBe('error')
    expect(verdictType('inconclusive')).toBe('warning')
    expect(verdictType('not_enough_data')).toBe('info')
  })
})

describe('detectable difference', () => {
  it('says how far apart the rates must be, or nothing without an answer', () => {
    expect(detectableNote(0.2346)).toBe('以两组目前的人数，到店率至少要相差 ±23.5 个百分点才能分辨；对照组越大、人数越多越灵敏')
    expect(detectableNote(null)).toBe('')
  })
})

describe('card parts', () => {
  it('splits an estimate from its interval, each formatted alike', () => {
    const shown = pointsParts({ estimate: 0.023, low: -0.011, high: 0.057 })
    expect(shown).toEqual({ value: '+2.3', low: '-1.1', high: '+5.7' })
    expect(rangeText(shown!)).toBe('-1.1 ~ +5.7')
    expect(yuanParts({ estimate: -99.6, low: -2500, high: 1800.2 })).toEqual({ value: '-￥1.00', low: '-￥25.00', high: '+￥18.00' })
    expect(roiParts({ estimate: 1.254, low: 0.1, high: 2.4 })).toEqual({ value: '+125%', low: '+10%', high: '+240%' })
    expect(yuanParts(null)).toBeNull()
    expect(roiParts(undefined)).toBeNull()
  })
})
