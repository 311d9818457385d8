import { useEffect, useState } from 'react';
import { useMutation, useQuery, useSubscription } from 'urql';
import { RESYNC_CODE } from '../../../protocol/index.js';
import {
  BUY_MUTATION,
  PRODUCT_QUERY,
  type ProductView,
  RESTOCK_MUTATION,
  STOCK_CHANGED_SUBSCRIPTION,
} from './documents.js';
import { formatPrice } from './format.js';
import { setFailed, setWatching } from './live-stats.js';
import { Monogram } from './monogram.js';
import { PushButton } from './push-button.js';
import { StockAlert, wantsAlert } from './stock-alert.js';
import { StockBadge } from './stock-badge.js';

/** Props of {@link ProductPage}. */
export interface ProductPageProps {
  productId: string;
}

interface StockEvent {
  /** Position in this page's feed, a stable React key. */
  n: number;
  stock: number;
  at: number;
}

type StockChanged = { stockChanged: { id: string; stock: number } };

const time = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/**
 * One product, watched live: while the page is open it holds a `stockChanged` subscription,
 * which the Web Push exchange turns into a registration for this tab.
 * @param props - see {@link ProductPageProps}
 * @returns the page
 */
export function ProductPage({ productId }: ProductPageProps) {
  const [{ data, fetching, error }, refetch] = useQuery<{ product: ProductView | null }>({
    query: PRODUCT_QUERY,
    variables: { id: productId },
  });
  const [alert, setAlert] = useState(() => wantsAlert(productId));
  const [{ data: events = [], error: liveError, extensions: liveExtensions }] = useSubscription<
    StockChanged,
    StockEvent[],
    { productId: string }
  >({ query: STOCK_CHANGED_SUBSCRIPTION, variables: { productId } }, (previous = [], result) => {
    const stock = result.stockChanged.stock;
    const n = (previous[0]?.n ?? 0) + 1;
    return [{ n, stock, at: Date.now() }, ...previous].slice(0, 5);
  });
  const [buying, buy] = useMutation(BUY_MUTATION);
  const [restocking, restock] = useMutation(RESTOCK_MUTATION);

  useEffect(() => {
    setWatching(productId);
    return () => setWatching(null);
  }, [productId]);

  useEffect(() => {
    if (liveError) setFailed();
  }, [liveError]);

  // Continuity was lost (the page was away longer than its registration lived): what changed
  // meanwhile is unknown, so read the product again.
  useEffect(() => {
    const notice = (liveExtensions as { webPush?: { code?: string } } | undefined)?.webPush;
    if (notice?.code === RESYNC_CODE) refetch({ requestPolicy: 'network-only' });
  }, [liveExtensions, refetch]);

  if (error) return <p className="notice notice-error">Could not load: {error.message}</p>;
  if (fetching && !data) return <p className="notice">Loading…</p>;
  const product = data?.product;
  if (!product) return <p className="notice">No product {productId}.</p>;

  const mutationError = buying.error ?? restocking.error;
  return (
    <article className="product-page" data-product-id={product.id}>
      <header className="product-header">
        <Monogram name={product.name} large />
        <div className="product-title">
          <h2>{product.name}</h2>
          <p className="product-description">{product.description}</p>
        </div>
        <span className="product-price">{formatPrice(product.priceCents)}</span>
      </header>

      <section className="stock-panel" aria-label="Stock">
        <StockBadge stock={product.stock} large testId="stock" />
        <div className="actions">
          <button
            type="button"
            className="button button-primary"
            data-testid="buy"
            disabled={buying.fetching || product.stock === 0}
            onClick={() => buy({ productId, quantity: 1 })}
          >
            Buy one
          </button>
          <button
            type="button"
            className="button"
            data-testid="restock"
            disabled={restocking.fetching}
            onClick={() => restock({ productId, quantity: 10 })}
          >
            Restock +10
          </button>
        </div>
        {mutationError && (
          <p className="notice notice-error" role="alert">
            {mutationError.graphQLErrors[0]?.message ?? mutationError.message}
          </p>
        )}
        <PushButton active={alert} onEnabled={() => setAlert(true)} />
        {alert && <StockAlert productId={productId} />}
      </section>

      <section className="activity" aria-label="Live updates">
        <h3>Live updates</h3>
        {liveError && <p className="notice notice-error">{liveError.message}</p>}
        {events.length === 0 ? (
          <p className="activity-empty">
            Waiting for changes. Open this product in another tab and buy one.
          </p>
        ) : (
          <ol className="activity-list">
            {events.map((event) => (
              <li key={event.n} className="activity-item">
                <span>
                  <span className="activity-dot" aria-hidden="true" />
                  Stock now <strong>{event.stock}</strong>
                </span>
                <time dateTime={new Date(event.at).toISOString()}>{time.format(event.at)}</time>
              </li>
            ))}
          </ol>
        )}
      </section>
    </article>
  );
}
