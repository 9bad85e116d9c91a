import { describe, expect, it } from 'vitest'
import { levelPricesBody, levelPricesForm, processingBody } from './catalog'

describe('level prices', () => {
  it('sends the levels given a price, in fen, and leaves the blank ones to their discount', () => {
    expect(levelPricesBody({ '1': 8800, '2': null, '3': 0, '4': undefined })).toEqual({ '1': 8800, '3': 0 })
    expect(levelPricesBody({})).toEqual({})
  })

  it('fills one entry a level from the service, dropping levels that are gone', () => {
    expect(levelPricesForm([1, 2], { '2': 7000, '9': 100 })).toEqual({ '1': null, '2': 7000 })
    expect(levelPricesForm([1], undefined)).toEqual({ '1': null })
  })
})

describe('processing window', () => {
  it('removes the window when switched off and sends it when on', () => {
    expect(processingBody(false, 20, 30)).toEqual({ offset_min: 0, length_min: 0 })
    expect(processingBody(true, 20, 30)).toEqual({ offset_min: 20, length_min: 30 })
    expect(processingBody(true, null, 30)).toBeNull()
    expect(processingBody(true, 20, undefined)).toBeNull()
  })
})
