import { useEffect, useRef, useState } from 'react';
import { stockLevel } from './format.js';

const LABELS = { out: 'Sold out', low: 'Low stock', ok: 'In stock' } as const;

/** Props of {@link StockBadge}. */
export interface StockBadgeProps {
  stock: number;
  /** Larger variant for the product page. */
  large?: boolean;
  /** `data-testid` of the number, for the browser tests. */
  testId?: string;
}

/**
 * A stock number with its level, briefly highlighted whenever it changes so that a pushed update
 * is visible.
 * @param props - see {@link StockBadgeProps}
 * @returns the badge
 */
export function StockBadge({ stock, large = false, testId }: StockBadgeProps) {
  const previous = useRef(stock);
  const [flash, setFlash] = useState<'up' | 'down' | null>(null);

  useEffect(() => {
    if (stock === previous.current) return;
    setFlash(stock > previous.current ? 'up' : 'down');
    previous.current = stock;
    const timer = setTimeout(() => setFlash(null), 900);
    return () => clearTimeout(timer);
  }, [stock]);

  const level = stockLevel(stock);
  const className = [
    'badge',
    `badge-${level}`,
    large ? 'badge-large' : '',
    flash ? `flash-${flash}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return (
    <span className={className} title={LABELS[level]}>
      <span className="badge-count" data-testid={testId}>
        {stock}
      </span>
      <span className="badge-label">{LABELS[level]}</span>
    </span>
  );
}
