#include "proxy/upstream_request.h"

#include "common/log.h"
#include "proxy/exchange.h"
#include "proxy/metrics.h"
#include "proxy/stats.h"
#include "proxy/upstream_pool.h"

namespace sy::proxy {

UpstreamRequest::UpstreamRequest(const ExchangeEnv& env, UpstreamHandler* handler,
                                 ClientConnection* owner)
    : env_(env), handler_(handler), owner_(owner), h1_(this), h2_(this) {}

UpstreamRequest::~UpstreamRequest() {
  release(false);
  set_member(nullptr);
  repin(&sticky_, nullptr);
}

void UpstreamRequest::set_member(WorkerMember* m) { repin(&member_, m); }

void UpstreamRequest::repin(WorkerMember** slot, WorkerMember* m) {
  if (*slot != nullptr) {
    WorkerPool::unpin(*slot);
  }
  *slot = m;
  if (m != nullptr) {
    WorkerPool::pin(m);  // a retired member stays allocated while this request points at it
  }
}

void UpstreamRequest::prepare(WorkerPool* pool, const HttpRequest& req, const ForwardPolicy& policy,
                              bool head_request, bool safe_to_retry) {
  pool_ = pool;
  set_member(nullptr);
  WorkerPool::StickyTarget sticky = pool->sticky_member(req);
  repin(&sticky_, sticky.member);
  sticky_counted_ = sticky.unknown;
  if (sticky.unknown) {
    env_.stats->inc(Stat::StickyFallbacks);
  }
  head_request_ = head_request;
  safe_to_retry_ = safe_to_retry;
  attempts_ = 0;
  exclude_mask_ = 0;
  last_connect_error_.clear();
  reused_ = false;
  t_connect_us_ = t_connected_us_ = t_sent_us_ = t_response_us_ = 0;
  size_t dropped = 0;
  if (pool->conf().protocol == conf::PoolProtocol::Http2) {
    ForwardPolicy p = policy;
    p.upstream_scheme = pool->tls() != nullptr ? "https" : "http";
    dropped = h2_.prepare(req, p);
    prepared_ = &h2_;
  } else {
    dropped = h1_.prepare(req, policy);
    prepared_ = &h1_;
  }
  if (dropped > 0) {
    env_.stats->inc(Stat::UnderscoreFieldsDropped, dropped);
  }
}

void UpstreamRequest::start() { connect_next(); }

void UpstreamRequest::connect_next() {
  bool panic = false;
  const uint64_t now_ms = monotonic_ms();
  WorkerMember* m = nullptr;
  if (sticky_ != nullptr) {
    // A member that failed to connect is in exclude_mask_: the retry goes to the balancer.
    m = pool_->sticky_pick(sticky_, exclude_mask_, now_ms);
    if (!sticky_counted_) {
      sticky_counted_ = true;
      env_.stats->inc(m != nullptr ? Stat::StickyHits : Stat::StickyFallbacks);
    }
  }
  if (m == nullptr) {
    m = pool_->pick(exclude_mask_, now_ms, &panic);
  }
  if (m == nullptr) {
    std::string message = "no member of pool '" + pool_->conf().name + "' could be connected";
    if (!last_connect_error_.empty()) {
      message += " (last: " + last_connect_error_ + ")";
    }
    fail_connect(message + "\n");
    return;
  }
  if (panic) {
    env_.stats->inc(Stat::NoHealthyMember);
  }
  set_member(m);
  ++attempts_;
  t_connect_us_ = monotonic_us();
  pool_->upstream_attached(m);  // paired with upstream_released() in detach_member()
  attached_ = true;
  codec_ = prepared_;
  codec_->connect(pool_, m);  // reports back, maybe at once
}

void UpstreamRequest::codec_connected(bool reused) {
  reused_ = reused;
  t_connected_us_ = monotonic_us();
  t_sent_us_ = t_connected_us_;
  pool_->exchange_started(member_);
  exchange_started_ = true;
  handler_->on_upstream_ready();
}

void UpstreamRequest::codec_connect_failed(std::string_view why) {
  env_.stats->inc(Stat::UpstreamConnectFailures);
  if (env_.metrics != nullptr) {
    WorkerMetrics& m = *env_.metrics;
    if (MemberMetrics* mm = m.member(pool_->shared().index, member_->shared->metrics_slot)) {
      mm->errors.add();
    }
  }
  pool_->record_failure(member_, monotonic_ms());
  std::string label = member_->shared->label;
  last_connect_error_.assign(label).append(": ").append(why);
  codec_->release(false);
  codec_ = nullptr;
  detach_member();
  for (size_t i = 0; i < pool_->size() && i < 64; ++i) {
    if (&pool_->member(i) == member_) {
      exclude_mask_ |= (uint64_t{1} << i);
    }
  }
  set_member(nullptr);
  if (attempts_ <= pool_->conf().retries) {
    env_.stats->inc(Stat::UpstreamRetries);
    SY_LOG(Debug, "connect to %s failed (%.*s); retrying on another member", label.c_str(),
           static_cast<int>(why.size()), why.data());
    connect_next();
    return;
  }
  std::string message = "cannot connect to upstream " + label + ": ";
  message.append(why).append("\n");
  fail_connect(message);
}

void UpstreamRequest::fail_connect(std::string_view message) {
  codec_ = nullptr;
  handler_->on_upstream_failed(UpstreamFailure::Connect, message);
}

void UpstreamRequest::codec_response_head(const HttpResponse& resp) {
  t_response_us_ = monotonic_us();
  pool_->record_success(member_);
  handler_->on_response_head(resp);
}

void UpstreamRequest::codec_request_sent() { t_sent_us_ = monotonic_us(); }

void UpstreamRequest::codec_failed(UpstreamFailure why, std::string_view message, bool retry_safe) {
  if (retry_safe && reused_ && safe_to_retry_ && t_response_us_ == 0) {
    // A reused connection the member had closed (or a stream it refused) before any
    // response byte: the request never reached the application and has no body, so it is
    // sent again on a fresh connection.
    codec_->release(false);
    codec_ = nullptr;
    detach_member();
    --attempts_;
    connect_next();
    return;
  }
  pool_->record_failure(member_, monotonic_ms());
  codec_->release(false);
  codec_ = nullptr;
  detach_member();
  handler_->on_upstream_failed(why, message);
}

void UpstreamRequest::end_request(std::string_view trailer) {
  if (codec_ != nullptr) {
    codec_->end_request(trailer);
  }
}

void UpstreamRequest::pause_response(bool paused) {
  if (codec_ != nullptr) {
    codec_->pause_response(paused);
  }
}

void UpstreamRequest::release(bool reusable) {
  if (codec_ != nullptr) {
    UpstreamCodec* codec = codec_;
    codec_ = nullptr;
    codec->release(reusable && !*env_.draining);
  }
  detach_member();
  repin(&sticky_, nullptr);  // read up to the response head only; a retired member can go
}

void UpstreamRequest::detach_member() {
  if (!attached_) {
    return;
  }
  attached_ = false;
  if (exchange_started_) {
    exchange_started_ = false;
    pool_->exchange_finished(member_);
  }
  pool_->upstream_released(member_);
}

}  // namespace sy::proxy
