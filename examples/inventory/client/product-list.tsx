import { useQuery } from 'urql';
import { PRODUCTS_QUERY, type ProductView } from './documents.js';
import { formatPrice } from './format.js';
import { Monogram } from './monogram.js';
import { productHref } from './route.js';
import { StockBadge } from './stock-badge.js';

/** Props of {@link ProductList}. */
export interface ProductListProps {
  /** The product whose page is open, highlighted in the list. */
  selectedId: string | null;
}

/**
 * Every product with its stock. It holds no subscription of its own: the open product page's
 * pushed results land in the normalized cache and re-render this list too.
 * @param props - see {@link ProductListProps}
 * @returns the list
 */
export function ProductList({ selectedId }: ProductListProps) {
  const [{ data, fetching, error }] = useQuery<{ products: ProductView[] }>({
    query: PRODUCTS_QUERY,
  });

  if (error) return <p className="notice notice-error">Could not load products: {error.message}</p>;
  if (fetching && !data) return <p className="notice">Loading products…</p>;

  return (
    <ul className="product-list" aria-label="Products">
      {data?.products.map((product) => (
        <li key={product.id}>
          <a
            className={product.id === selectedId ? 'product-row selected' : 'product-row'}
            href={productHref(product.id)}
            data-testid={`list-${product.id}`}
            aria-current={product.id === selectedId ? 'page' : undefined}
          >
            <Monogram name={product.name} />
            <span className="product-row-text">
              <span className="product-row-name">{product.name}</span>
              <span className="product-row-price">{formatPrice(product.priceCents)}</span>
            </span>
            <StockBadge stock={product.stock} testId={`list-stock-${product.id}`} />
          </a>
        </li>
      ))}
    </ul>
  );
}
