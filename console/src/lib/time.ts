// Time is UTC on the wire; people read it in the store's zone (a chain may span zones).

/** "2026-12-05 14:30" in the given IANA zone. */
export function formatInZone(iso: string | null | undefined, timeZone: string): string {
  if (!iso) return ''
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(iso))
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? ''
  return `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}`
}

/** The instant local midnight begins `day` ("2026-12-06") in the zone (a day a store's calendar starts). */
export function midnightIn(day: string, timeZone: string): Date {
  return instantIn(`${day} 00:00`, timeZone)
}

/** The instant a wall-clock time ("2026-12-06 09:30") is in the zone (when a campaign runs, in the store's time). */
export function instantIn(local: string, timeZone: string): Date {
  const [day = '', clock = '00:00'] = local.trim().split(' ')
  const [y, m, d] = day.split('-').map(Number) as [number, number, number]
  const [hh, mm] = clock.split(':').map(Number) as [number, number]
  const guess = Date.UTC(y, m - 1, d, hh, mm)
  // The zone's offset at the guess, read back through the zone's own clock; a second pass settles a day whose
  // offset changes (daylight saving) between the guess and the answer.
  const offsetAt = (at: number) => Date.parse(`${formatInZone(new Date(at).toISOString(), timeZone).replace(' ', 'T')}:00Z`) - at
  const first = guess - offsetAt(guess)
  return new Date(guess - offsetAt(first))
}
