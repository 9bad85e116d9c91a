import { beforeAll, describe, expect, it, vi } from 'vitest'

beforeAll(() => {
  // The uni global the runtime provides: empty storage.
  vi.stubGlobal('uni', { getStorageSync: () => '', setStorageSync: () => {}, removeStorageSync: () => {} })
})

describe('usable', () => {
  it('keeps a session until a minute before it ends', async () => {
    const { usable } = await import('./session')
    const now = new Date('2026-12-06T10:00:00Z')
    expect(usable({ expiresAt: '2026-12-06T10:05:00Z' }, now)).toBe(true)
    expect(usable({ expiresAt: '2026-12-06T10:00:30Z' }, now)).toBe(false)
    expect(usable(null, now)).toBe(false)
  })
})
