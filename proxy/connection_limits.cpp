#include "proxy/connection_limits.h"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>

namespace sy::proxy {
namespace {

// Descriptors kept out of the client/upstream budget besides what is open at start.
constexpr uint64_t kPerWorker = 4;  // epoll, eventfd, and what libevent opens per base
constexpr uint64_t kAdmin = 64;     // admin listeners and connections
constexpr uint64_t kDatabase = 8;   // loader, heartbeat, admin and upgrade sessions
constexpr uint64_t kHeadroom = 32;  // certificate reloads, /proc reads, the unexpected

uint64_t open_descriptors() {
  uint64_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      n += e->d_name[0] != '.' ? 1 : 0;
    }
    closedir(d);
  }
  return n;
}

}  // namespace

DescriptorBudget raise_descriptor_limit(const conf::Config& config, int workers) {
  DescriptorBudget b;
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  b.soft_before = rl.rlim_cur;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      rl = raised;
    }
  }
  b.limit = rl.rlim_cur == RLIM_INFINITY ? uint64_t{1} << 20 : rl.rlim_cur;
  uint64_t health_members = 0;
  for (const conf::Pool& p : config.pools) {
    health_members += p.health_check.enabled ? p.members.size() : 0;
  }
  b.reserved = open_descriptors() + kPerWorker * static_cast<uint64_t>(workers) + health_members +
               kAdmin + kDatabase + kHeadroom;
  uint64_t left = b.limit > b.reserved ? b.limit - b.reserved : 0;
  b.automatic = static_cast<int>(std::clamp<uint64_t>(left / 2, 1, 1u << 30));
  return b;
}

ConnectionLimits::ConnectionLimits(int max_total, const std::vector<int>& listener_caps)
    : max_total_(max_total), listeners_(new PerListener[listener_caps.size()]) {
  for (size_t i = 0; i < listener_caps.size(); ++i) {
    listeners_[i].max = listener_caps[i];
  }
}

void ConnectionLimits::acquire(size_t index) {
  total_.fetch_add(1, std::memory_order_relaxed);
  listeners_[index].count.fetch_add(1, std::memory_order_relaxed);
}

void ConnectionLimits::release(size_t index) {
  total_.fetch_sub(1, std::memory_order_relaxed);
  listeners_[index].count.fetch_sub(1, std::memory_order_relaxed);
}

bool ConnectionLimits::has_room(size_t index) const {
  const PerListener& l = listeners_[index];
  return total_.load(std::memory_order_relaxed) < max_total_ &&
         (l.max == 0 || l.count.load(std::memory_order_relaxed) < l.max);
}

}  // namespace sy::proxy
