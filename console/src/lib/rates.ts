// Rates cross the wire in basis points (1/10000); people read and type percentages and 折. Nothing here prices anything.

/** 10% from 1000 bp. */
export function bpToPercent(bp: number): number {
  return bp / 100
}

/** 1000 bp from 10%; to the nearest basis point. */
export function percentToBp(percent: number): number {
  return Math.round(percent * 100)
}

/** 9 (折) from 9000 bp, 9.5 from 9500: what members of a level pay, in tenths of the price. */
export function bpToZhe(bp: number): number {
  return bp / 1000
}

/** 9000 bp from 9 折; to the nearest basis point. */
export function zheToBp(zhe: number): number {
  return Math.round(zhe * 1000)
}

/** A commission tier as the form holds it: money in fen (typed in yuan), a percentage rather than basis points. */
export interface TierForm {
  from_fen: number | null
  /** `percent` rules: percent of the line's net amount. */
  percent: number | null
  /** `fixed` rules: fen a unit. */
  fixed_fen: number | null
}

/** The form's tier from the api's, by the rule's mode (`percent`: value in bp; `fixed`: value in fen a unit). */
export function tierToForm(tier: { from_fen: number; value: number }, mode: string): TierForm {
  return mode === 'percent'
    ? { from_fen: tier.from_fen, percent: bpToPercent(tier.value), fixed_fen: null }
    : { from_fen: tier.from_fen, percent: null, fixed_fen: tier.value }
}

/** The api's tier from the form's, or null while an amount or rate is missing (or not a number). */
export function tierFromForm(tier: TierForm, mode: string): { from_fen: number; value: number } | null {
  const value = mode === 'percent' ? (tier.percent == null ? null : percentToBp(tier.percent)) : tier.fixed_fen
  if (tier.from_fen == null || value == null || !Number.isFinite(value)) return null
  return { from_fen: tier.from_fen, value }
}
