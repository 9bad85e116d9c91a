import { describe, expect, it } from 'vitest'
import { formatInZone, instantIn, midnightIn } from './time'

describe('formatInZone', () => {
  it("shows UTC instants in the store's zone, across the date line of the day", () => {
    expect(formatInZone('2026-12-04T17:30:00Z', 'Asia/Shanghai')).toBe('2026-12-05 01:30')
    expect(formatInZone('2026-12-04T17:30:00Z', 'Asia/Urumqi')).toBe('2026-12-04 23:30')
    expect(formatInZone(null, 'Asia/Shanghai')).toBe('')
  })
})

describe('midnightIn', () => {
  it('finds local midnight in the store zone', () => {
    expect(midnightIn('2026-12-06', 'Asia/Shanghai').toISOString()).toBe('2026-12-05T16:00:00.000Z')
    expect(midnightIn('2026-12-06', 'UTC').toISOString()).toBe('2026-12-06T00:00:00.000Z')
    // New York's clocks go back on 2026-11-01: that day still starts at 04:00 UTC (EDT), the next at 05:00.
    expect(midnightIn('2026-11-01', 'America/New_York').toISOString()).toBe('2026-11-01T04:00:00.000Z')
    expect(midnightIn('2026-11-02', 'America/New_York').toISOString()).toBe('2026-11-02T05:00:00.000Z')
  })
})

describe('instantIn', () => {
  it('reads a wall-clock time in the store zone', () => {
    expect(instantIn('2026-12-06 09:30', 'Asia/Shanghai').toISOString()).toBe('2026-12-06T01:30:00.000Z')
    expect(instantIn('2026-07-01 09:30', 'America/New_York').toISOString()).toBe('2026-07-01T13:30:00.000Z')
  })
})
