import { describe, expect, it } from 'vitest'
import { byDay } from './slots'

describe('byDay', () => {
  it("groups free starts by the store's local day, in order", () => {
    const slots = [
      { local_starts_at: '2026-12-07T10:00:00+08:00' },
      { local_starts_at: '2026-12-06T20:45:00+08:00' },
      { local_starts_at: '2026-12-06T10:15:00+08:00' },
    ]
    expect(byDay(slots)).toEqual([
      { day: '2026-12-06', slots: [slots[2], slots[1]] },
      { day: '2026-12-07', slots: [slots[0]] },
    ])
    expect(byDay([])).toEqual([])
  })
})
