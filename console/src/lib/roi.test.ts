// @vitest-environment jsdom
import { afterEach, describe, expect, it } from 'vitest'
import { i18n } from '@/i18n'
import {
  attributionText,
  averageYuan,
  estimateText,
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
  verdictTagType,
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
    expect(verdictTagType('negative')).toBe('danger')
    expect(verdictTagType('positive')).toBe('success')
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

describe('attribution', () => {
  it('says how many who were sent a message came, within how many days, and what they spent', () => {
    expect(attributionText({ days: 3, recipients: 5, visitors: 2, revenue_fen: 12_800 })).toBe('收到消息的 5 人中，2 人在 3 天内到店消费 ￥128.00')
    expect(attributionText({ days: 3, recipients: 4, visitors: 0, revenue_fen: 0 })).toBe('收到消息的 4 人中，0 人在 3 天内到店消费 ￥0.00')
  })

  it('says so when nobody was sent a message', () => {
    expect(attributionText({ days: 3, recipients: 0, visitors: 0, revenue_fen: 0 })).toBe('活动组没有人收到消息')
  })

  it('speaks English too', () => {
    i18n.global.locale.value = 'en'
    expect(attributionText({ days: 3, recipients: 5, visitors: 2, revenue_fen: 12_800 })).toBe('Of 5 sent a message, 2 came within 3 days and spent ￥128.00')
  })
})

describe('pre-launch estimate', () => {
  const sizes = { audience: 1000, treated: 900, control: 100 }

  it('gives the split, the recent visit rate and the smallest difference it could tell apart', () => {
    expect(estimateText({ ...sizes, base_visit_rate: 0.25, detectable_visit_rate: 0.0812 }, 30)).toEqual({
      text: '预计活动组 900 人、对照组 100 人；近 30 天到店率 25.0%，本活动能分辨的最小到店率差异约 ±8.1 个百分点',
      hint: '',
    })
  })

  it('hints at remedies when the difference it could tell apart is over 10 points', () => {
    const shown = estimateText({ audience: 3, treated: 3, control: 0, base_visit_rate: 1 / 3, detectable_visit_rate: 0.4567 }, 14)
    expect(shown.text).toBe('预计活动组 3 人、对照组 0 人；近 14 天到店率 33.3%，本活动能分辨的最小到店率差异约 ±45.7 个百分点')
    expect(shown.hint).toBe('人数较少：可加大对照组比例、延长观察期，或合并多家门店/多次活动')
    expect(estimateText({ ...sizes, base_visit_rate: 0.5, detectable_visit_rate: 0.1 }, 30).hint).toBe('')
  })

  it('shows only the sizes when there is no rate (an empty segment, nobody or everybody came)', () => {
    expect(estimateText({ ...sizes, base_visit_rate: null, detectable_visit_rate: null }, 30)).toEqual({ text: '预计活动组 900 人、对照组 100 人', hint: '' })
    expect(estimateText({ audience: 0, treated: 0, control: 0 }, 30)).toEqual({ text: '预计活动组 0 人、对照组 0 人', hint: '' })
  })
})
