#include "store/dsn_source.h"

namespace sy::store {

uint64_t now_unix_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::vector<Dsn> DsnLists::loader_state() const {
  if (!state.empty()) {
    return state;
  }
  if (!readers.empty()) {
    return writers;
  }
  return {};
}

DsnLists DsnSource::lists() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lists_;
}

uint64_t DsnSource::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

bool DsnSource::set(DsnLists lists) {
  std::lock_guard<std::mutex> lock(mu_);
  if (lists == lists_) {
    return false;
  }
  lists_ = std::move(lists);
  ++generation_;
  return true;
}

void DsnSource::connected(const std::string& who, const Db& db) {
  std::lock_guard<std::mutex> lock(mu_);
  SessionView& v = sessions_[who];
  v.who = who;
  v.dsn = db.dsn().label();
  v.role = db.role() == DsnRole::Writer ? "writer" : "reader";
  v.passed_over = db.passed_over();
  v.error.clear();
  v.since_unix_ms = now_unix_ms();
}

void DsnSource::left(const std::string& who, const Db& db, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  SessionView& v = sessions_[who];
  v.who = who;
  v.left = db.dsn().label() + ": " + why;
}

void DsnSource::failed(const std::string& who, const Error& e) {
  std::lock_guard<std::mutex> lock(mu_);
  SessionView& v = sessions_[who];
  v.who = who;
  v.dsn.clear();
  v.passed_over.clear();
  v.error = e.message;
  v.since_unix_ms = now_unix_ms();
}

std::vector<SessionView> DsnSource::sessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SessionView> out;
  for (const auto& [name, v] : sessions_) {
    out.push_back(v);
  }
  return out;
}

}  // namespace sy::store
