import { gql } from 'urql';

/** Fields every view of a product shows. */
export const PRODUCT_FIELDS = gql`
  fragment ProductFields on Product {
    id
    name
    description
    priceCents
    stock
  }
`;

/** The list in the sidebar. */
export const PRODUCTS_QUERY = gql`
  query Products {
    products {
      ...ProductFields
    }
  }
  ${PRODUCT_FIELDS}
`;

/** One product page. */
export const PRODUCT_QUERY = gql`
  query Product($id: ID!) {
    product(id: $id) {
      ...ProductFields
    }
  }
  ${PRODUCT_FIELDS}
`;

/**
 * Live stock of one product. Only `id` and `stock` travel in each push message; the normalized
 * cache merges them into `Product:<id>`, which updates the list and the page alike.
 */
export const STOCK_CHANGED_SUBSCRIPTION = gql`
  subscription StockChanged($productId: ID!) {
    stockChanged(productId: $productId) {
      id
      stock
    }
  }
`;

/**
 * The same change, for the background alert: a registration of its own, marked `background`, so
 * that it is pushed while the tab is hidden (the service worker turns it into a notification).
 */
export const STOCK_ALERT_SUBSCRIPTION = gql`
  subscription StockAlert($productId: ID!) {
    stockChanged(productId: $productId) {
      id
      stock
    }
  }
`;

/** Takes items out of stock. */
export const BUY_MUTATION = gql`
  mutation Buy($productId: ID!, $quantity: Int!) {
    buy(productId: $productId, quantity: $quantity) {
      id
      stock
    }
  }
`;

/** Puts items back into stock. */
export const RESTOCK_MUTATION = gql`
  mutation Restock($productId: ID!, $quantity: Int!) {
    restock(productId: $productId, quantity: $quantity) {
      id
      stock
    }
  }
`;

/** A product as the views read it. */
export interface ProductView {
  id: string;
  name: string;
  description: string;
  priceCents: number;
  stock: number;
}
