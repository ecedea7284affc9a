#include "app/resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <map>
#include <stdexcept>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "common/log.h"
#include "common/timeval.h"

namespace sy::app {

// One pass: a query per name; the answers are applied together when the last one is in.
struct Resolver::Round {
  Resolver* owner = nullptr;
  size_t pending = 0;
  std::map<std::string, DnsAnswer> answers;
};

namespace {

struct Query {
  std::shared_ptr<Resolver::Round> round;
  std::string name;
};

std::string ip_text(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

void answered(int result, evutil_addrinfo* res, void* arg) {
  std::unique_ptr<Query> q(static_cast<Query*>(arg));
  DnsAnswer& a = q->round->answers[q->name];
  if (result != 0) {
    a.error = evutil_gai_strerror(result);
  } else {
    for (evutil_addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      std::string ip = ip_text(ai->ai_addr);
      bool seen = ip.empty();
      for (const auto& have : a.ips) {
        seen = seen || have == ip;
      }
      if (!seen) {
        a.ips.push_back(ip);
      }
    }
    if (a.ips.empty()) {
      a.error = "no A or AAAA record";
    }
  }
  if (res != nullptr) {
    evutil_freeaddrinfo(res);
  }
  Resolver::Round& r = *q->round;
  if (--r.pending == 0) {
    r.owner->finish_round(q->round);
  }
}

}  // namespace

Resolver::Resolver(const conf::Resolver& conf, MemberSync* sync) : conf_(conf), sync_(sync) {
  base_ = event_base_new();
  if (base_ == nullptr) {
    throw std::runtime_error("resolver: cannot create an event base");
  }
  bool own = !conf_.nameservers.empty();
  dns_ = evdns_base_new(base_, own ? 0 : EVDNS_BASE_INITIALIZE_NAMESERVERS);
  if (dns_ == nullptr) {
    throw std::runtime_error("resolver: cannot create the DNS resolver");
  }
  if (own) {
    for (const auto& ns : conf_.nameservers) {
      if (evdns_base_nameserver_ip_add(dns_, ns.c_str()) != 0) {
        SY_LOG(Warn, "resolver: nameserver %s not usable", ns.c_str());
      }
    }
  } else {
    evdns_base_load_hosts(dns_, nullptr);  // /etc/hosts first, like getaddrinfo
  }
  // evdns times out per attempt in whole seconds (at least 1); one attempt, then the round's
  // failure keeps the last good set until the next round.
  long secs = (conf_.timeout.count() + 999) / 1000;
  std::string timeout = std::to_string(secs < 1 ? 1 : secs);
  evdns_base_set_option(dns_, "timeout:", timeout.c_str());
  evdns_base_set_option(dns_, "attempts:", "1");
  evdns_base_set_option(dns_, "randomize-case:", "0");
  tick_ = event_new(base_, -1, EV_PERSIST, tick_cb, this);
  stop_ = event_new(base_, -1, 0, stop_cb, this);
}

Resolver::~Resolver() {
  stop();
  round_.reset();
  evdns_base_free(dns_, 1);  // fails queries still pending: their callbacks free themselves
  event_free(tick_);
  event_free(stop_);
  event_base_free(base_);
}

void Resolver::begin_round() {
  if (round_ != nullptr) {
    return;  // the previous pass is still waiting for answers
  }
  std::vector<std::string> names = sync_->names();
  if (names.empty()) {
    return;
  }
  auto round = std::make_shared<Round>();
  round->owner = this;
  round->pending = names.size() + 1;  // + 1: not finished while queries are being started
  round_ = round;
  for (const auto& name : names) {
    evutil_addrinfo hints{};
    hints.ai_family = AF_UNSPEC;  // A and AAAA
    hints.ai_socktype = SOCK_STREAM;
    evdns_getaddrinfo(dns_, name.c_str(), nullptr, &hints, answered,
                      new Query{round, name});  // may answer at once (hosts file, error)
  }
  if (--round->pending == 0) {
    finish_round(round);
  }
}

void Resolver::finish_round(const std::shared_ptr<Round>& round) {
  auto answers = std::move(round->answers);
  round_.reset();
  sync_->set_dns(answers);
  if (blocking_) {
    event_base_loopbreak(base_);
  }
}

void Resolver::resolve_now() {
  blocking_ = true;
  begin_round();
  if (round_ != nullptr) {
    event_base_dispatch(base_);  // until finish_round breaks it (evdns times out queries)
  }
  blocking_ = false;
}

void Resolver::start() {
  timeval tv = ms_to_tv(conf_.resolve_interval);
  event_add(tick_, &tv);
  thread_ = std::thread([this] { event_base_dispatch(base_); });
}

void Resolver::stop() {
  if (thread_.joinable()) {
    event_active(stop_, EV_READ, 0);
    thread_.join();
  }
}

void Resolver::tick_cb(int, short, void* arg) { static_cast<Resolver*>(arg)->begin_round(); }

void Resolver::stop_cb(int, short, void* arg) {
  event_base_loopbreak(static_cast<Resolver*>(arg)->base_);
}

}  // namespace sy::app
