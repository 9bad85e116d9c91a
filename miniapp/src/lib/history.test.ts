import { describe, expect, it } from 'vitest'
import { movementTitle, shortTime } from './history'

describe('movementTitle', () => {
  it('prefers the memo the server wrote, then the kind name', () => {
    expect(movementTitle('recharge', '充500送50')).toBe('充500送50')
    expect(movementTitle('points_expiry', '')).toBe('积分过期')
    expect(movementTitle('something_new', ' ')).toBe('something_new')
  })
})

describe('shortTime', () => {
  it('shows month, day and minutes in local time', () => {
    const at = new Date(2026, 11, 6, 9, 5)
    expect(shortTime(at.toISOString())).toBe('12-06 09:05')
  })
})
