const price = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

/**
 * Formats a price for display.
 * @param cents - price in cents
 * @returns e.g. `$899.00`
 */
export function formatPrice(cents: number): string {
  return price.format(cents / 100);
}

/** How a stock level reads at a glance. */
export type StockLevel = 'out' | 'low' | 'ok';

/**
 * Classifies a stock level for its badge.
 * @param stock - items in stock
 * @returns `out` at 0, `low` up to 5, else `ok`
 */
export function stockLevel(stock: number): StockLevel {
  if (stock <= 0) return 'out';
  return stock <= 5 ? 'low' : 'ok';
}
