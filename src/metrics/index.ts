// The Prometheus exporter (metrics.listen): what the daemon's status and counters say, served as text.
export { metricsView, MetricsCollector, type CollectorSources, type MetricsView } from './collector.js';
export { MetricsServer, type MetricsListen } from './server.js';
export { cachedStatus } from './cache.js';
