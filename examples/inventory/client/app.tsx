import { AnnouncementBanner } from './announcement-banner.js';
import { LiveStatus } from './live-status.js';
import { ProductList } from './product-list.js';
import { ProductPage } from './product-page.js';
import { useRoute } from './route.js';

/**
 * The whole page: the product list beside the open product, and the status bar.
 * @returns the app
 */
export function App() {
  const route = useRoute();
  const selectedId = route.name === 'product' ? route.productId : null;
  return (
    <div className="shell">
      <header className="topbar">
        <div className="topbar-inner">
          <a className="brand" href="#/">
            <span className="brand-mark" aria-hidden="true">
              ◆
            </span>
            Live inventory
          </a>
          <span className="tagline">
            Stock changes arrive live: over a resumable stream, or as Web Push messages once you
            allow them.
          </span>
          <a className="topbar-link" href="/about.html" data-testid="about">
            About
          </a>
        </div>
      </header>
      <AnnouncementBanner />
      <main className="layout">
        <aside className="sidebar">
          <h1 className="sidebar-title">Products</h1>
          <ProductList selectedId={selectedId} />
        </aside>
        <section className="content">
          {selectedId ? (
            <ProductPage key={selectedId} productId={selectedId} />
          ) : (
            <div className="empty">
              <h2>Pick a product</h2>
              <p>
                Its page subscribes to stock changes. Open the same product in a second tab, buy one
                there, and watch this one update without a reload.
              </p>
            </div>
          )}
        </section>
      </main>
      <LiveStatus />
    </div>
  );
}
