// The admin thread: a poll(2) loop over the admin listeners and their connections. Commands run
// one at a time on this thread (blocking database work included); `upgrade schemata` runs on
// its own thread and streams to its connection through |Job|; `pool member wait` is polled.

#include "admin/server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "admin/commands.h"
#include "admin/events.h"
#include "admin/listeners.h"
#include "admin/protocol.h"
#include "admin/token.h"
#include "common/log.h"
#include "store/member_store.h"

namespace sy::admin {

namespace {

constexpr size_t kMaxLine = 64 * 1024;
constexpr int kMaxAuthFailures = 3;
// A connection whose unsent replies reach kOutputHigh is neither read nor run until they drain
// to kOutputLow: a client that sends and never reads holds at most about kMaxLine of input and
// kOutputHigh plus one reply of output (the kernel's socket buffers push back on it).
constexpr size_t kOutputHigh = 256 * 1024;
constexpr size_t kOutputLow = 64 * 1024;
// Refused connections are logged at most this often (with a count), so a flood cannot flood
// the log.
constexpr auto kRefusedLogInterval = std::chrono::seconds(10);

std::string errno_text() { return std::strerror(errno); }

}  // namespace

// The upgrade job's hand-off to the admin thread; shared with the job thread, which may outlive
// the server at shutdown (it is detached then), hence the shared_ptr.
struct Job {
  std::mutex mu;
  std::vector<std::string> lines;  // guarded by mu: progress lines not yet sent
  // Guarded by mu: the latest step (AdminServer::upgrade_progress).
  std::optional<ProgressLine> last;
  bool done = false;                // guarded by mu
  std::condition_variable done_cv;  // notified when done is set (AdminServer::stop waits)
  Reply reply;                      // guarded by mu; valid when done
  int wake_fd = -1;
  void wake() {
    uint64_t one = 1;
    ssize_t n = ::write(wake_fd, &one, sizeof one);
    (void)n;
  }
};

struct Conn {
  int id = 0;
  int fd = -1;
  bool tcp = false;
  Privilege level = Privilege::Admin;
  bool authed = false;
  int auth_failures = 0;
  bool close_after_flush = false;  // stop reading and running; close once written
  bool peer_eof = false;           // the peer finished sending: close once all is answered
  bool paused = false;             // out reached kOutputHigh: not read or run until kOutputLow
  std::string in;
  std::string out;
  std::deque<std::string> queue;  // commands received but not yet run (this one is busy)
  // Busy with a deferred command:
  std::function<std::optional<Reply>()> poll;
  bool busy_json = false;
  std::shared_ptr<Job> job;
};

namespace {

// True when |c| may run its next command now.
bool can_run(const Conn& c) { return !c.poll && !c.job && !c.close_after_flush && !c.paused; }

// Whether |c| is read: not while closing, paused, or holding a line's worth not yet run.
bool wants_input(const Conn& c) {
  return !c.close_after_flush && !c.peer_eof && !c.paused && c.in.size() <= kMaxLine;
}

}  // namespace

struct AdminServer::Impl {
  ServerOptions opt;
  AdminContext ctx;
  std::shared_ptr<EventSink> events;
  std::unique_ptr<EventHook> hook;  // with admin.event_hook and a state database
  int unix_fd = -1;
  int tcp_fd = -1;
  std::atomic<bool> keep_socket_file{false};  // handed to a successor: stop() leaves the file
  int wake_fd = -1;
  std::string token;
  std::map<int, std::unique_ptr<Conn>> conns;  // by id
  int next_id = 1;
  Stores stores;
  // The member poller: its own thread and session, so that a slow or frozen state database
  // never keeps the admin thread (and `show stats`) waiting.
  Stores member_stores;
  bool db_down_logged = false;     // member poller only
  std::string pool_members_error;  // member poller only: the last one logged
  std::string pools_error;         // member poller only: the last one logged
  std::mutex member_mu;
  std::condition_variable member_cv;  // wakes the poller at stop
  std::thread member_thread;
  std::atomic<bool> stopping{false};
  std::shared_ptr<std::atomic<bool>> stop_jobs = std::make_shared<std::atomic<bool>>(false);
  std::mutex job_mu;
  std::shared_ptr<Job> running_job;  // guarded by job_mu: the job job_thread runs
  std::atomic<bool> upgrade_running{false};
  std::thread thread;
  std::thread job_thread;
  CommandEnv env;
  AdminServer::Counters counters;
  uint64_t refused_unlogged = 0;  // refused since the last log line
  std::chrono::steady_clock::time_point refused_logged_at{};

  Impl(ServerOptions o, AdminContext c)
      : opt(std::move(o)), ctx(std::move(c)),
        events(std::make_shared<EventSink>(ctx.instance_id + "/admin")), stores(opt.stores),
        member_stores(named(opt.stores, "members")) {}

  static StoreOptions named(StoreOptions o, const char* who) {
    o.who = who;
    return o;
  }

  void run();
  void accept_on(int listen_fd, bool tcp);
  void refuse(int fd, bool tcp, int max);
  void on_readable(Conn& c);
  void process_input(Conn& c);
  void on_line(Conn& c, std::string line);
  void run_queue(Conn& c);
  void finish_reply(Conn& c, const Reply& r, bool json);
  void flush(Conn& c);
  bool poll_members();  // false when the database could not be read; member poller only
  void member_loop();
  void drain_job(Conn* c);
};

void AdminServer::Impl::finish_reply(Conn& c, const Reply& r, bool json) {
  if (!r.ok && r.code == "database") {
    stores.reset(r.message);  // reconnect on the next command; `show database` says why
  }
  std::string text = render_reply(r, json);
  c.out += text;
  if (!text.empty()) {
    c.out += "\n";
  }
  c.out += "\n";
  if (c.out.size() >= kOutputHigh) {
    c.paused = true;
  }
}

void AdminServer::Impl::on_line(Conn& c, std::string line) {
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  if (c.tcp && !c.authed) {
    auto words = tokenize(line);
    bool json = false;
    std::string why = "send `auth <token>` first";
    if (words.ok()) {
      Request rq = make_request(std::move(words.value()));
      json = rq.json;
      if (rq.words.size() == 2 && rq.words[0] == "auth" && token_matches(rq.words[1], token)) {
        c.authed = true;
        finish_reply(c, message_reply("authenticated"), json);
        return;
      }
      if (!rq.words.empty() && rq.words[0] == "auth") {
        why = "wrong token";
      }
    }
    if (++c.auth_failures >= kMaxAuthFailures) {
      why += "; too many failures, closing";
      c.close_after_flush = true;
    }
    finish_reply(c, error_reply("auth", why), json);
    return;
  }
  for (auto& cmd : split_commands(line)) {
    c.queue.push_back(std::move(cmd));
  }
  run_queue(c);
}

void AdminServer::Impl::run_queue(Conn& c) {
  while (!c.queue.empty() && can_run(c)) {
    std::string cmd = std::move(c.queue.front());
    c.queue.pop_front();
    auto words = tokenize(cmd);
    if (!words.ok()) {
      bool json = cmd.find("--json") != std::string::npos;
      finish_reply(c, error_reply(words.error()), json);
      continue;
    }
    Request rq = make_request(std::move(words.value()));
    if (rq.words.size() == 2 && rq.words[0] == "auth") {
      finish_reply(c, message_reply(c.tcp ? "already authenticated" : "no token needed here"),
                   rq.json);
      continue;
    }
    Reply r = dispatch(env, rq, c.level);
    // Audit: every command of the admin level (the command table's privilege) is logged with
    // its outcome.
    const Command* row = find_command(rq.words);
    const bool changing = row != nullptr && row->privilege == Privilege::Admin;
    if (changing) {
      SY_LOG(Info, "admin: %s connection %d: %s -> %s", c.tcp ? "tcp" : "unix", c.id, cmd.c_str(),
             r.ok ? "ok" : ("ERR " + r.code).c_str());
    }
    if (r.poll) {
      c.poll = std::move(r.poll);
      c.busy_json = rq.json;
      if (auto done = c.poll()) {  // maybe already true
        c.poll = nullptr;
        finish_reply(c, *done, rq.json);
      }
      continue;
    }
    if (r.long_job) {
      if (upgrade_running.exchange(true)) {
        finish_reply(c, error_reply("driver-busy", "an upgrade run is already driven here"),
                     rq.json);
        continue;
      }
      if (job_thread.joinable()) {
        job_thread.join();
      }
      if (stop_jobs->load()) {
        upgrade_running.store(false);
        finish_reply(c, error_reply("stopped", "switchyard is shutting down"), rq.json);
        continue;
      }
      auto job = std::make_shared<Job>();
      job->wake_fd = wake_fd;
      {
        std::lock_guard<std::mutex> lock(job_mu);
        running_job = job;
      }
      c.job = job;
      c.busy_json = rq.json;
      bool json = rq.json;
      job_thread = std::thread([job, fn = std::move(r.long_job), json] {
        Reply final = fn([&](const ProgressLine& p) {
          std::lock_guard<std::mutex> lock(job->mu);
          job->lines.push_back(format_progress(p, json));
          job->last = p;
          job->wake();
        });
        std::lock_guard<std::mutex> lock(job->mu);
        job->reply = std::move(final);
        job->done = true;
        job->wake();
        job->done_cv.notify_all();
      });
      continue;
    }
    finish_reply(c, r, rq.json);
  }
}

void AdminServer::Impl::drain_job(Conn* c) {
  // The connection that owns the running job (if still connected) gets its lines.
  Conn* owner = c;
  std::shared_ptr<Job> job;
  if (owner != nullptr) {
    job = owner->job;
  }
  if (!job) {
    return;
  }
  std::vector<std::string> lines;
  bool done = false;
  Reply reply;
  {
    std::lock_guard<std::mutex> lock(job->mu);
    lines.swap(job->lines);
    done = job->done;
    if (done) {
      reply = job->reply;
    }
  }
  for (auto& l : lines) {
    owner->out += l + "\n";
  }
  if (owner->out.size() >= kOutputHigh) {
    owner->paused = true;
  }
  if (done) {
    owner->job.reset();
    finish_reply(*owner, reply, owner->busy_json);
    if (job_thread.joinable()) {
      job_thread.join();
    }
    upgrade_running.store(false);
    run_queue(*owner);
  }
}

void AdminServer::Impl::flush(Conn& c) {
  while (!c.out.empty()) {
    ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return;
    }
    c.close_after_flush = true;
    c.out.clear();
    return;
  }
}

void AdminServer::Impl::on_readable(Conn& c) {
  char buf[4096];
  // At most one line's worth is taken from the kernel ahead of the commands that run; the rest
  // waits there, so a client that sends faster than it reads is slowed down, not buffered.
  while (c.in.size() <= kMaxLine) {
    ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      c.peer_eof = true;  // answer what it sent, then close
      break;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      c.close_after_flush = true;
    }
    break;
  }
  process_input(c);
}

void AdminServer::Impl::process_input(Conn& c) {
  run_queue(c);  // commands of a line that was cut short by a pause
  // Lines before |taken| are done; erased once at the end, so a burst of thousands of short
  // lines costs no quadratic copying.
  size_t taken = 0;
  size_t nl;
  while (can_run(c) && c.queue.empty() && (nl = c.in.find('\n', taken)) != std::string::npos &&
         nl - taken <= kMaxLine) {
    std::string line = c.in.substr(taken, nl - taken);
    taken = nl + 1;
    on_line(c, std::move(line));
  }
  c.in.erase(0, taken);
  if (!c.close_after_flush && c.in.size() > kMaxLine) {
    nl = c.in.find('\n');
    if (nl == std::string::npos || nl > kMaxLine) {
      c.out += format_error("usage", "line longer than 64 KiB; closing", false) + "\n\n";
      c.close_after_flush = true;
      c.in.clear();
      c.queue.clear();
    }
  }
}

void AdminServer::Impl::accept_on(int listen_fd, bool tcp) {
  const int max = tcp ? opt.admin.tcp.max_connections : opt.admin.socket.max_connections;
  for (;;) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      return;
    }
    int open = 0;
    for (const auto& [id, c] : conns) {
      open += c->tcp == tcp ? 1 : 0;
    }
    if (open >= max) {
      refuse(fd, tcp, max);
      continue;
    }
    auto c = std::make_unique<Conn>();
    c->id = next_id++;
    c->fd = fd;
    c->tcp = tcp;
    c->authed = !tcp;
    const conf::AdminLevel lvl = tcp ? opt.admin.tcp.level : opt.admin.socket.level;
    c->level = lvl == conf::AdminLevel::Admin ? Privilege::Admin : Privilege::ReadOnly;
    conns[c->id] = std::move(c);
  }
}

void AdminServer::Impl::refuse(int fd, bool tcp, int max) {
  counters.refused.fetch_add(1, std::memory_order_relaxed);  // before the peer can see the close
  // One line, best effort (a fresh socket's buffer takes it), then closed: the client sees why.
  std::string text =
      format_error("busy",
                   "too many admin connections on this listener (max " + std::to_string(max) +
                       ", admin." + (tcp ? "tcp" : "socket") + ".max_connections); closing",
                   false) +
      "\n\n";
  ssize_t n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)n;
  ::close(fd);
  ++refused_unlogged;
  auto now = std::chrono::steady_clock::now();
  if (now >= refused_logged_at + kRefusedLogInterval) {
    SY_LOG(Warn, "admin: refused %llu connection(s): admin.%s.max_connections (%d) reached",
           static_cast<unsigned long long>(refused_unlogged), tcp ? "tcp" : "socket", max);
    refused_unlogged = 0;
    refused_logged_at = now;
  }
}

bool AdminServer::Impl::poll_members() {
  if (!stores.has_state() || !ctx.set_member) {
    return true;
  }
  auto s = member_stores.state();
  if (!s.ok()) {
    if (!db_down_logged) {
      SY_LOG(Warn, "admin: member state not refreshed: %s", s.error().message.c_str());
      db_down_logged = true;
    }
    return false;
  }
  if (ctx.apply_pools) {
    // Pools before members: a member row of a pool added meanwhile applies in this same poll.
    // A failure (e.g. a database not migrated to version 12 yet) leaves the pools as they are.
    auto pools = load_pools(**s);
    if (pools.ok()) {
      pools_error.clear();
      ctx.apply_pools(*pools);
    } else if (pools_error != pools.error().message) {
      pools_error = pools.error().message;
      SY_LOG(Warn, "admin: pools not refreshed: %s", pools_error.c_str());
    }
  }
  if (ctx.apply_pool_members) {
    // A failure here (e.g. a database not migrated to version 10 yet) leaves the members as
    // they are; the member states below are still applied.
    auto members = load_pool_members(**s);
    if (members.ok()) {
      pool_members_error.clear();
      ctx.apply_pool_members(*members);
    } else if (pool_members_error != members.error().message) {
      pool_members_error = members.error().message;
      SY_LOG(Warn, "admin: pool members not refreshed: %s", pool_members_error.c_str());
    }
  }
  auto rows = load_member_states(**s);
  if (!rows.ok()) {
    if (!db_down_logged) {
      SY_LOG(Warn, "admin: member state not refreshed: %s", rows.error().message.c_str());
      db_down_logged = true;
    }
    member_stores.reset();
    return false;
  }
  db_down_logged = false;
  for (const auto& m : *rows) {
    ctx.set_member(m);
  }
  return true;
}

void AdminServer::Impl::member_loop() {
  auto next = opt.member_poll_interval;
  std::unique_lock<std::mutex> lock(member_mu);
  while (!member_cv.wait_for(lock, next, [this] { return stopping.load(); })) {
    lock.unlock();
    // Backs off while the database is down.
    next = poll_members() ? opt.member_poll_interval : 5 * opt.member_poll_interval;
    lock.lock();
  }
}

void AdminServer::Impl::run() {
  std::vector<pollfd> fds;
  std::vector<int> ids;
  while (!stopping.load()) {
    fds.clear();
    ids.clear();
    fds.push_back({wake_fd, POLLIN, 0});
    ids.push_back(0);
    if (unix_fd >= 0) {
      fds.push_back({unix_fd, POLLIN, 0});
      ids.push_back(-1);
    }
    if (tcp_fd >= 0) {
      fds.push_back({tcp_fd, POLLIN, 0});
      ids.push_back(-2);
    }
    bool polling = false;
    for (auto& [id, c] : conns) {
      polling = polling || static_cast<bool>(c->poll);
      // A closing connection is not read again (its peer may be gone: POLLHUP would wake
      // this loop forever); it stays only to be written or until its job ends. A paused one
      // is only written until its output drains.
      short ev = wants_input(*c) ? POLLIN : 0;
      if (!c->out.empty()) {
        ev |= POLLOUT;
      }
      fds.push_back({ev == 0 ? -1 : c->fd, ev, 0});
      ids.push_back(id);
    }
    int timeout = polling ? 50 : 200;
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) {
      SY_LOG(Error, "admin: poll: %s", errno_text().c_str());
      break;
    }
    for (size_t i = 0; i < fds.size() && n > 0; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      if (ids[i] == 0) {
        uint64_t count;
        ssize_t r = ::read(wake_fd, &count, sizeof count);
        (void)r;
      } else if (ids[i] == -1) {
        accept_on(unix_fd, false);
      } else if (ids[i] == -2) {
        accept_on(tcp_fd, true);
      } else {
        auto it = conns.find(ids[i]);
        if (it == conns.end()) {
          continue;
        }
        Conn& c = *it->second;
        if (wants_input(c) && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
          on_readable(c);
        }
      }
    }
    // Deferred work: jobs, polls, then writes, input left waiting by a pause, and closes.
    uint64_t paused = 0;
    for (auto& [id, c] : conns) {
      if (c->job) {
        drain_job(c.get());
      }
      if (c->poll) {
        if (auto done = c->poll()) {
          c->poll = nullptr;
          finish_reply(*c, *done, c->busy_json);
          run_queue(*c);
        }
      }
      flush(*c);
      if (c->paused && c->out.size() <= kOutputLow) {
        c->paused = false;
      }
      if (can_run(*c)) {
        process_input(*c);
        flush(*c);
      }
      paused += c->paused ? 1 : 0;
    }
    counters.paused.store(paused, std::memory_order_relaxed);
    for (auto it = conns.begin(); it != conns.end();) {
      Conn& c = *it->second;
      // Close once everything is answered; a connection whose job still runs stays until the
      // job ends (its output is then dropped if the peer left).
      bool done = c.out.empty() && !c.poll && !c.job &&
                  (c.close_after_flush ||
                   (c.peer_eof && c.queue.empty() && c.in.find('\n') == std::string::npos));
      if (done) {
        ::close(c.fd);
        it = conns.erase(it);
      } else {
        ++it;
      }
    }
    counters.open.store(conns.size(), std::memory_order_relaxed);
  }
}

AdminServer::AdminServer(ServerOptions options, AdminContext context)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(context))) {}

AdminServer::~AdminServer() { stop(); }

int AdminServer::unix_fd() const { return impl_->unix_fd; }
int AdminServer::tcp_fd() const { return impl_->tcp_fd; }
void AdminServer::keep_socket_file() { impl_->keep_socket_file.store(true); }

AdminServer::Counters::Snapshot AdminServer::counters() const {
  const Counters& c = impl_->counters;
  return {c.open.load(std::memory_order_relaxed), c.paused.load(std::memory_order_relaxed),
          c.refused.load(std::memory_order_relaxed)};
}

std::optional<ProgressLine> AdminServer::upgrade_progress() const {
  std::shared_ptr<Job> job;
  {
    std::lock_guard<std::mutex> lock(impl_->job_mu);
    job = impl_->running_job;
  }
  if (!job) {
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(job->mu);
  return job->done ? std::nullopt : job->last;
}

Result<Unit> AdminServer::start() {
  Impl& s = *impl_;
  const conf::Admin& a = s.opt.admin;
  if (a.tcp.enabled) {
    auto token = read_token_file(a.tcp.token_file, "admin.tcp.token_file");
    if (!token.ok()) {
      return token.error();
    }
    s.token = std::move(token.value());
  }
  if (a.socket.enabled) {
    auto fd = listen_admin_socket(a.socket, s.opt.inherited_unix_fd);
    s.opt.inherited_unix_fd = -1;
    if (!fd.ok()) {
      return fd.error();
    }
    s.unix_fd = *fd;
  }
  if (a.tcp.enabled) {
    auto tcp = listen_admin_tcp(a.tcp, s.opt.inherited_tcp_fd);
    s.opt.inherited_tcp_fd = -1;
    if (!tcp.ok()) {
      return tcp.error();
    }
    s.tcp_fd = tcp->fd;
    tcp_address_ = std::move(tcp->address);
  }
  s.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  s.env.ctx = &s.ctx;
  s.env.options = &s.opt;
  s.env.events = s.events.get();
  s.env.events_owner = s.events;
  s.env.upgrade_running = &s.upgrade_running;
  s.env.stop_jobs = s.stop_jobs;
  s.env.actor = s.ctx.instance_id + "/admin";
  s.env.stores = &s.stores;
  s.poll_members();  // runtime state survives restarts: reapplied before the first command
  s.member_thread = std::thread([&s] { s.member_loop(); });
  if (!s.opt.admin.event_hook.empty()) {
    if (s.stores.has_state()) {
      EventHookOptions ho;
      ho.command = s.opt.admin.event_hook;
      ho.instance_id = s.ctx.instance_id;
      s.hook = std::make_unique<EventHook>(std::move(ho), s.opt.stores);
      s.hook->start();
    } else {
      SY_LOG(Warn, "admin.event_hook: no state database, so no event is made or delivered");
    }
  }
  s.thread = std::thread([&s] { s.run(); });
  SY_LOG(Info, "admin: listening%s%s%s%s", a.socket.enabled ? " on " : "",
         a.socket.enabled ? a.socket.path.c_str() : "", a.tcp.enabled ? " and tcp " : "",
         a.tcp.enabled ? tcp_address_.c_str() : "");
  return ok_result();
}

void AdminServer::stop() {
  if (!impl_) {
    return;
  }
  Impl& s = *impl_;
  if (s.stop_jobs->exchange(true)) {
    return;
  }
  // First, while the admin thread still delivers its progress lines and reply: a run in
  // progress stops at its next step boundary and journals it; the next driver resumes it.
  std::shared_ptr<Job> job;
  {
    std::lock_guard<std::mutex> lock(s.job_mu);
    job = s.running_job;
  }
  bool job_done = true;
  if (job) {
    std::unique_lock<std::mutex> lock(job->mu);
    job_done = job->done_cv.wait_for(lock, s.opt.job_stop_wait, [&] { return job->done; });
  }
  s.stopping = true;
  if (s.wake_fd >= 0) {
    uint64_t one = 1;
    ssize_t n = ::write(s.wake_fd, &one, sizeof one);
    (void)n;
  }
  {
    std::lock_guard<std::mutex> lock(s.member_mu);  // the poller sees stopping when it waits
  }
  s.member_cv.notify_all();
  if (s.member_thread.joinable()) {
    s.member_thread.join();
  }
  if (s.hook) {
    s.hook->stop();
  }
  if (s.thread.joinable()) {
    s.thread.join();
  }
  if (s.job_thread.joinable()) {
    // A run that did not get to a step boundary in time (an update task still running) is
    // detached: its thread only touches its own Job, Db and the shared stop flag.
    if (job_done) {
      s.job_thread.join();
    } else {
      SY_LOG(Warn,
             "admin: the upgrade run did not reach a step boundary within %lld ms; "
             "leaving it (its journal lets the next driver resume)",
             static_cast<long long>(s.opt.job_stop_wait.count()));
      s.job_thread.detach();
    }
  }
  for (auto& [id, c] : s.conns) {
    ::close(c->fd);
  }
  s.conns.clear();
  if (s.unix_fd >= 0) {
    ::close(s.unix_fd);
    if (!s.keep_socket_file.load()) {
      ::unlink(s.opt.admin.socket.path.c_str());
    }
    s.unix_fd = -1;
  }
  if (s.tcp_fd >= 0) {
    ::close(s.tcp_fd);
    s.tcp_fd = -1;
  }
}

}  // namespace sy::admin
