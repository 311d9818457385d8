import { useSyncExternalStore } from 'react';

/** Where the page is: the list alone, or one product. */
export type Route = { name: 'home' } | { name: 'product'; productId: string };

/**
 * Reads a route from a location hash (`#/product/p1`).
 * @param hash - `location.hash`
 * @returns the route; anything unknown is home
 */
export function parseRoute(hash: string): Route {
  const match = /^#\/product\/([\w-]+)$/.exec(hash);
  return match?.[1] ? { name: 'product', productId: match[1] } : { name: 'home' };
}

/**
 * Builds the hash of a product page.
 * @param productId - the product
 * @returns e.g. `#/product/p1`
 */
export function productHref(productId: string): string {
  return `#/product/${encodeURIComponent(productId)}`;
}

const subscribe = (onChange: () => void) => {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
};

/**
 * The current route, re-rendering on every hash change. A hash route keeps the example a single
 * static page: the server needs no fallback for client-side paths.
 * @returns the current route
 */
export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash);
  return parseRoute(hash);
}
