import { describe, expect, it } from 'vitest'
import { addDays, blockStyle, minutesInto, minutesOf, todayIn } from './board'

describe('the day board', () => {
  it('places a booking by its local times, clipped to the board', () => {
    const board = { from: 9 * 60, to: 21 * 60 }
    expect(minutesOf('14:30')).toBe(870)
    expect(minutesInto('2026-12-06', '2026-12-06T14:30:00+08:00')).toBe(870)
    expect(minutesInto('2026-12-06', '2026-12-07T00:00:00+08:00')).toBe(1440)
    expect(minutesInto('2026-12-06', '2026-12-05T23:00:00-05:00')).toBe(-60)
    expect(blockStyle({ from: 600, to: 690 }, board, 2)).toEqual({ top: '120px', height: '180px' })
    expect(blockStyle({ from: 480, to: 570 }, board, 1)).toEqual({ top: '0px', height: '30px' })
    expect(blockStyle({ from: 1200, to: 1440 }, board, 1)).toEqual({ top: '660px', height: '60px' })
  })

  it("knows the store's day and steps across months and years", () => {
    expect(todayIn('Asia/Shanghai', new Date('2026-12-31T16:30:00Z'))).toBe('2027-01-01')
    expect(todayIn('America/Los_Angeles', new Date('2026-12-31T16:30:00Z'))).toBe('2026-12-31')
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01')
    expect(addDays('2028-03-01', -1)).toBe('2028-02-29')
  })
})
