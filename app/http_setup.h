#pragma once
// Composition of the HTTP admin listener (admin/http_server.h, docs/metrics.md) for the
// `switchyard` process: what /metrics, /ready and the status page read. Like admin_setup, this
// is the composition root's helper: it alone sees the workers, the loader and the admin server
// at once.
//
// The listener starts before the tenant directory's first load (so /ready answers 503 "no
// routing snapshot yet" meanwhile) and stops after the workers are joined (so /ready answers
// 503 "draining" for the whole drain). What exists later is published to it through atomics.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "admin/http_server.h"
#include "admin/server.h"
#include "conf/config.h"
#include "proxy/upstream_pool.h"
#include "routing/publisher.h"
#include "store/directory_loader.h"

namespace sy::proxy {
class Worker;
}

namespace sy::app {

struct HttpSources {
  const conf::Config* config = nullptr;
  const proxy::PoolRegistry* registry = nullptr;
  const std::vector<std::unique_ptr<proxy::Worker>>* workers = nullptr;
  const std::atomic<bool>* workers_started = nullptr;     // |workers| may be read once true
  const routing::SnapshotPublisher* publisher = nullptr;  // null without routing
  // Set by main once they exist (null until then, and after they are gone).
  std::atomic<const store::LoaderStatus*> loader{nullptr};
  std::atomic<const admin::AdminServer*> admin{nullptr};
  std::atomic<bool> draining{false};  // SIGTERM/SIGINT: the workers drain
};

// The hooks over |sources| (which must outlive the server). Run on the HTTP admin thread.
admin::HttpHooks make_http_hooks(const HttpSources* sources);

// The Prometheus text of /metrics (docs/metrics.md lists every family). Any thread.
void render_metrics(const HttpSources& s, std::string* out);

}  // namespace sy::app
