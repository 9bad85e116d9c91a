// Free starts, grouped by the store's local day for the booking page.

export interface SlotLike {
  local_starts_at: string
}

/** Slots in order, grouped by local date ("2026-12-06T14:30:00+08:00" → "2026-12-06"), days in order. */
export function byDay<T extends SlotLike>(slots: T[]): { day: string; slots: T[] }[] {
  const days = new Map<string, T[]>()
  for (const slot of [...slots].sort((a, b) => a.local_starts_at.localeCompare(b.local_starts_at))) {
    const day = slot.local_starts_at.slice(0, 10)
    days.set(day, [...(days.get(day) ?? []), slot])
  }
  return [...days.entries()].map(([day, list]) => ({ day, slots: list }))
}
