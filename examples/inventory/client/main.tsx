import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { Provider } from 'urql';
import { App } from './app.js';
import { createInventoryClient } from './client.js';
import { connectLiveStats } from './live-stats.js';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root');

const { client, link } = createInventoryClient();
connectLiveStats(link);
createRoot(root).render(
  <StrictMode>
    <Provider value={client}>
      <App />
    </Provider>
  </StrictMode>,
);
