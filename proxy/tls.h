#pragma once
// TLS termination: OpenSSL server contexts for the listeners that have a `tls` section, their
// publication to the workers, and certificate reload.
//
//   main thread                                 worker thread (one TlsView each)
//   TlsStore::create(config)  ── builds ──▶      accept: view.new_ssl(listener, &pin)
//   SIGHUP: store.reload()                         generation() moved? re-pin under the mutex
//     build new TlsContexts off the workers         SSL_new(default SSL_CTX of the listener)
//     (files read here, never on a worker)        the connection keeps |pin| until it closes,
//     lock; current_ = new; ++generation_         so the SNI table its SSL points at stays alive
//
// A TlsContexts is immutable once built (STYLE rule 4): a reload builds a whole new one; a
// failed reload logs and changes nothing. Live connections keep the SSL_CTX they started with
// (SSL objects hold a reference), new connections get the new certificates.
//
// Per listener: one SSL_CTX per configured certificate; the first is the default, the others
// are chosen by SNI against each certificate's DNS subjectAltNames (or its CN when it has
// none), exact or one-label wildcard ("*.example.com"). TLS 1.2 and 1.3 only, Mozilla
// "intermediate" ciphers for 1.2, ALPN "http/1.1", no renegotiation, no compression.
//
// Session tickets: one process-wide key ring (AES-256-CBC + HMAC-SHA256 keys from RAND_bytes at
// start), shared by every worker and every context, so a session resumes on any worker and
// across certificate reloads. The encryption key rotates every hour (lazily, at the first
// ticket operation after the hour); tickets made with the previous key are still accepted and
// renewed.

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "conf/config.h"

namespace sy::proxy {

// True when |host| (an SNI server name) matches |pattern| (a certificate DNS name, lower case,
// possibly "*.rest"): exact, case-insensitive; a wildcard matches exactly one left-most label.
// Pure.
bool tls_name_matches(std::string_view pattern, std::string_view host);

// The server contexts of one TLS listener. Immutable after build.
class TlsListenerContexts {
 public:
  ~TlsListenerContexts();
  TlsListenerContexts(const TlsListenerContexts&) = delete;
  TlsListenerContexts& operator=(const TlsListenerContexts&) = delete;

  // Reads the listener's certificate and key files and builds its contexts. Blocking (file
  // I/O): main thread only. The error names the listener, the key path and the file.
  static Result<std::unique_ptr<TlsListenerContexts>> build(const conf::Listener& listener,
                                                            const std::string& base_dir);

  // A new server-side SSL on the default context, in accept state; the caller owns it.
  // nullptr when OpenSSL is out of memory. Any thread.
  SSL* new_ssl() const;
  // The context whose certificate names match |host|; nullptr = keep the default. Any thread.
  SSL_CTX* match(std::string_view host) const;

  const conf::Listener* listener() const { return listener_; }
  // Names (DNS SANs or CN) of certificate |i|; for logs and tests.
  const std::vector<std::string>& names(size_t i) const { return certs_[i].names; }

 private:
  TlsListenerContexts() = default;
  struct Cert {
    SSL_CTX* ctx = nullptr;          // owned
    std::vector<std::string> names;  // lower case
  };
  const conf::Listener* listener_ = nullptr;
  std::vector<Cert> certs_;  // [0] = default
};

// Every TLS listener's contexts, built together. Immutable; shared by the workers through
// shared_ptr<const TlsContexts>.
struct TlsContexts {
  std::vector<std::unique_ptr<TlsListenerContexts>> listeners;
  // The contexts of |listener|; nullptr when it does not terminate TLS. Any thread.
  const TlsListenerContexts* find(const conf::Listener* listener) const;
};

// Builds and publishes TlsContexts for the process. |config| must outlive the store.
class TlsStore {
 public:
  // Builds the contexts of every TLS listener of |config|; nullptr (not an error) when no
  // listener has `tls`. Relative certificate paths are resolved against the directory of
  // config.file. Main thread (reads files).
  static Result<std::unique_ptr<TlsStore>> create(const conf::Config& config);

  // Re-reads every certificate and key with the same configuration and publishes the result.
  // On any error nothing changes and the error is returned. Main thread (reads files).
  Result<Unit> reload();

  // Number of publications so far (1 after create). Any thread; one acquire load.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // The current contexts and their generation. Any thread; takes the mutex.
  std::shared_ptr<const TlsContexts> current(uint64_t* generation) const;

 private:
  explicit TlsStore(const conf::Config& config) : config_(config) {}
  Result<std::shared_ptr<const TlsContexts>> build() const;

  const conf::Config& config_;
  mutable std::mutex mu_;
  std::shared_ptr<const TlsContexts> current_;  // guarded by mu_
  std::atomic<uint64_t> generation_{0};         // written under mu_
};

// TLS to the members of one pool (conf::PoolTls): one client SSL_CTX, built at start-up and
// immutable afterwards, shared by the workers and the health checker (SSL_new on a shared
// SSL_CTX is thread-safe). TLS 1.2+, Mozilla "intermediate" ciphers for 1.2, ALPN http/1.1,
// peer verification against `ca` (or the system store) unless verify is false.
//
// Session resumption: the context keeps no session cache of its own. Each SSL carries a
// pointer to a caller-owned slot (one per member per worker, or per health-check target);
// every session the server hands out (TLS 1.2 at the handshake, TLS 1.3 tickets after it) is
// stored there, replacing the previous one, and the next SSL for that slot offers it. Only the
// thread that owns the slot uses SSLs pointing at it, so the slot needs no lock.
class UpstreamTls {
 public:
  ~UpstreamTls();
  UpstreamTls(const UpstreamTls&) = delete;
  UpstreamTls& operator=(const UpstreamTls&) = delete;

  // Reads the pool's CA, client certificate and key files. Blocking (file I/O): main thread
  // only. The error names the pool, the key path and the file. |pool| must outlive the result.
  static Result<std::unique_ptr<UpstreamTls>> build(const conf::Pool& pool,
                                                    const std::string& base_dir);

  // A new client SSL (connect state) for a member whose name to check is |name| (the pool's
  // server_name, else the member's host): SNI when it is a DNS name, hostname or IP check when
  // verifying. Offers the session in |*session_slot| (if any, and session_reuse is on) and
  // stores new sessions there; |session_slot| may be null and must outlive the SSL's use.
  // The caller owns the SSL. nullptr on out-of-memory. Any thread.
  SSL* new_ssl(const std::string& name, SSL_SESSION** session_slot) const;

  const conf::PoolTls& conf() const { return pool_->tls; }

 private:
  UpstreamTls() = default;
  const conf::Pool* pool_ = nullptr;
  SSL_CTX* ctx_ = nullptr;  // owned
};

// Why a TLS client handshake on |ssl| failed, for a 502 body, a log line and the health
// check: "upstream TLS verification failed: <OpenSSL's reason>" when the peer's certificate
// was rejected, "upstream TLS handshake failed: <reason>" otherwise. |ssl_error| is the
// OpenSSL error code taken from the error queue when it failed (0 = none: |sys_errno|, or the
// peer closed the connection). Any thread.
std::string describe_tls_client_failure(const SSL* ssl, unsigned long ssl_error, int sys_errno);

// Frees a session slot's session (SSL_SESSION_free; null is fine) and clears it.
void free_tls_session(SSL_SESSION** slot);

// One worker's pinned view of a TlsStore. Worker thread only.
class TlsView {
 public:
  explicit TlsView(const TlsStore* store) : store_(store) {}

  // A new server SSL for |listener| from the newest published contexts (re-pinned when the
  // store's generation moved). |*pin| receives the contexts the SSL belongs to; the caller keeps
  // it as long as the SSL lives. nullptr when |listener| has no TLS or on out-of-memory.
  SSL* new_ssl(const conf::Listener* listener, std::shared_ptr<const TlsContexts>* pin);

 private:
  const TlsStore* store_;
  uint64_t generation_ = 0;
  std::shared_ptr<const TlsContexts> pinned_;
};

}  // namespace sy::proxy
