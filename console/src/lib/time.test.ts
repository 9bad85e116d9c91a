import { describe, expect, it } from 'vitest'
import { formatInZone } from './time'

describe('formatInZone', () => {
  it("shows UTC instants in the store's zone, across the date line of the day", () => {
    expect(formatInZone('2026-12-04T17:30:00Z', 'Asia/Shanghai')).toBe('2026-12-05 01:30')
    expect(formatInZone('2026-12-04T17:30:00Z', 'Asia/Urumqi')).toBe('2026-12-04 23:30')
    expect(formatInZone(null, 'Asia/Shanghai')).toBe('')
  })
})
