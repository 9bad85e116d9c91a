import { describe, expect, it, vi } from 'vitest'

vi.stubGlobal('uni', {})

describe('urlFor', () => {
  it('fills the path and leaves out empty query values', async () => {
    const { urlFor } = await import('@/api/client')
    expect(urlFor('/api/mini/v1/me/bookings/{id}', { id: 7 })).toBe('/api/mini/v1/me/bookings/7')
    expect(urlFor('/api/mini/v1/stores/{id}/slots', { id: 2 }, { service_ids: '1,3', from: undefined, days: 1 })).toBe(
      '/api/mini/v1/stores/2/slots?service_ids=1%2C3&days=1',
    )
  })
})
