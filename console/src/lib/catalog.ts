// What the service form sends that is more than a copy of a field. The server prices; nothing here does.

/**
 * The api's `level_prices` (level id → fen) from the form's: a level left blank has no price of its own (its discount
 * applies), so it is left out. The map replaces the service's whole map: `{}` removes them all.
 */
export function levelPricesBody(prices: Record<string, number | null | undefined>): Record<string, number> {
  return Object.fromEntries(Object.entries(prices).filter((entry): entry is [string, number] => entry[1] != null))
}

/** The form's level prices from the service's, one entry for each level the merchant has (blank when it has none). */
export function levelPricesForm(levelIds: number[], prices: Record<string, number> | undefined): Record<string, number | null> {
  return Object.fromEntries(levelIds.map((id) => [String(id), prices?.[String(id)] ?? null]))
}

/**
 * The api's processing window from the form's: switched off, a length of 0 (which removes any window); switched on,
 * null while a number is missing.
 */
export function processingBody(on: boolean, offsetMin: number | null | undefined, lengthMin: number | null | undefined): { offset_min: number; length_min: number } | null {
  if (!on) return { offset_min: 0, length_min: 0 }
  return offsetMin == null || lengthMin == null ? null : { offset_min: offsetMin, length_min: lengthMin }
}
