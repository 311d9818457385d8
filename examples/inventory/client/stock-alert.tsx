import { useEffect, useMemo } from 'react';
import { useSubscription } from 'urql';
import type { WebPushOperationContext } from '../../../link/index.js';
import { STOCK_ALERT_SUBSCRIPTION } from './documents.js';

const ALERTS_KEY = 'inventory:alerts';

const readAlerts = (): string[] => {
  try {
    const parsed: unknown = JSON.parse(sessionStorage.getItem(ALERTS_KEY) ?? '[]');
    return Array.isArray(parsed) ? parsed.filter((id) => typeof id === 'string') : [];
  } catch {
    return [];
  }
};

/**
 * Whether this tab asked for background alerts on a product (kept across reloads of the tab).
 * @param productId - the product
 * @returns true once {@link StockAlert} ran for it
 */
export function wantsAlert(productId: string): boolean {
  return readAlerts().includes(productId);
}

/** Props of {@link StockAlert}. */
export interface StockAlertProps {
  productId: string;
}

/**
 * A background registration: its pushes go on while the tab is hidden or the shop closed, and the
 * service worker shows a notification for them (the `notify` policy). The page's own stock
 * subscription is data-only: a hidden tab holds its pushes and catches up when shown.
 * @param props - see {@link StockAlertProps}
 * @returns nothing visible
 */
export function StockAlert({ productId }: StockAlertProps) {
  const context = useMemo(
    () => ({ webPush: { background: true } satisfies WebPushOperationContext }),
    [],
  );
  useSubscription({ query: STOCK_ALERT_SUBSCRIPTION, variables: { productId }, context });
  useEffect(() => {
    const alerts = readAlerts();
    if (alerts.includes(productId)) return;
    try {
      sessionStorage.setItem(ALERTS_KEY, JSON.stringify([...alerts, productId]));
    } catch {
      // Without storage the alert lasts as long as the page.
    }
  }, [productId]);
  return null;
}
