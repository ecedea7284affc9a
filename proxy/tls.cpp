#include "proxy/tls.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/ascii.h"
#include "common/log.h"

namespace sy::proxy {
namespace {

// Mozilla "intermediate" TLS 1.2 suites (forward secrecy + AEAD only); TLS 1.3 keeps
// OpenSSL's defaults, which are the same three AEAD suites Mozilla lists.
constexpr char kCipherList[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                               "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                               "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// Upstream connections carry HTTP/1.1 only.
constexpr unsigned char kUpstreamAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kUpstreamAlpnH2[] = {2, 'h', '2'};  // pools with protocol: h2
// Server preference order: h2 first.
constexpr unsigned char kAlpnProtocols[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kSessionIdContext[] = "switchyard";
constexpr int64_t kTicketKeyLifetimeS = 3600;  // encrypt with a key this long
constexpr long kSessionTimeoutS = 2 * kTicketKeyLifetimeS;

// --- session ticket keys --------------------------------------------------------------------

struct TicketKey {
  unsigned char name[16];
  unsigned char aes[32];
  unsigned char hmac[32];
  int64_t created_s = 0;  // CLOCK_MONOTONIC seconds
};

int64_t monotonic_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec);
}

// Process-wide: every worker and every (reloaded) context encrypts with the same current key.
// Taken once per full handshake and per resumption, never per request.
class TicketKeyRing {
 public:
  // Copies the current key into |out|, rotating first when it is older than the lifetime.
  // False when the RNG failed (no ticket is issued then).
  bool current(TicketKey* out) {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t now = monotonic_s();
    if (!have_current_ || now - current_.created_s >= kTicketKeyLifetimeS) {
      TicketKey fresh;
      if (RAND_bytes(fresh.name, sizeof fresh.name) != 1 ||
          RAND_bytes(fresh.aes, sizeof fresh.aes) != 1 ||
          RAND_bytes(fresh.hmac, sizeof fresh.hmac) != 1) {
        return false;
      }
      fresh.created_s = now;
      previous_ = current_;
      have_previous_ = have_current_;
      current_ = fresh;
      have_current_ = true;
    }
    *out = current_;
    return true;
  }
  // Finds the key named |name|; *renew = it is the previous key (reissue the ticket).
  bool find(const unsigned char* name, TicketKey* out, bool* renew) {
    std::lock_guard<std::mutex> lock(mu_);
    if (have_current_ && std::memcmp(name, current_.name, sizeof current_.name) == 0) {
      *out = current_;
      *renew = false;
      return true;
    }
    if (have_previous_ && std::memcmp(name, previous_.name, sizeof previous_.name) == 0 &&
        monotonic_s() - previous_.created_s < 2 * kTicketKeyLifetimeS) {
      *out = previous_;
      *renew = true;
      return true;
    }
    return false;
  }

 private:
  std::mutex mu_;
  TicketKey current_{};
  TicketKey previous_{};
  bool have_current_ = false;
  bool have_previous_ = false;
};

TicketKeyRing& ticket_keys() {
  static TicketKeyRing ring;
  return ring;
}

bool set_mac_key(EVP_MAC_CTX* hctx, unsigned char* key, size_t len) {
  char digest[] = "SHA256";
  OSSL_PARAM params[3];
  params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, len);
  params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
  params[2] = OSSL_PARAM_construct_end();
  return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

// SSL_CTX_set_tlsext_ticket_key_evp_cb: 1 = ok, 2 = ok but renew, 0 = unknown key (full
// handshake), -1 = error.
int ticket_key_cb(SSL*, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                  EVP_CIPHER_CTX* cctx, EVP_MAC_CTX* hctx, int enc) {
  TicketKey key;
  if (enc == 1) {
    if (!ticket_keys().current(&key)) {
      return -1;
    }
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) {
      return -1;
    }
    std::memcpy(key_name, key.name, sizeof key.name);
    if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, key.aes, iv) != 1 ||
        !set_mac_key(hctx, key.hmac, sizeof key.hmac)) {
      return -1;
    }
    return 1;
  }
  bool renew = false;
  if (!ticket_keys().find(key_name, &key, &renew)) {
    return 0;
  }
  if (!set_mac_key(hctx, key.hmac, sizeof key.hmac) ||
      EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, key.aes, iv) != 1) {
    return -1;
  }
  return renew ? 2 : 1;
}

// --- callbacks --------------------------------------------------------------------------------

int servername_cb(SSL* ssl, int*, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) {
    return SSL_TLSEXT_ERR_OK;  // no SNI: the default certificate
  }
  auto* contexts = static_cast<const TlsListenerContexts*>(arg);
  SSL_CTX* ctx = contexts->match(name);
  if (ctx != nullptr && ctx != SSL_get_SSL_CTX(ssl)) {
    SSL_set_SSL_CTX(ssl, ctx);
  }
  return SSL_TLSEXT_ERR_OK;
}

int alpn_select_cb(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                   unsigned int inlen, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kAlpnProtocols, sizeof kAlpnProtocols, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: carry on without ALPN (HTTP/1.1)
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// --- building ---------------------------------------------------------------------------------

std::string openssl_error() {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) {
    return "unknown OpenSSL error";
  }
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string resolve(const std::string& path, const std::string& base_dir) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) {
    return path;
  }
  return base_dir + "/" + path;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// DNS subjectAltNames of |cert|, or its CN when it has none (RFC 6125 fallback).
std::vector<std::string> certificate_names(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type == GEN_DNS) {
        const ASN1_IA5STRING* s = gn->d.dNSName;
        names.push_back(lower(std::string_view(reinterpret_cast<const char*>(s->data),
                                               static_cast<size_t>(s->length))));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    X509_NAME* subject = X509_get_subject_name(cert);
    char cn[256];
    int len = X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof cn);
    if (len > 0) {
      names.push_back(lower(std::string_view(cn, static_cast<size_t>(len))));
    }
  }
  return names;
}

Result<Unit> readable(const std::string& what, const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) {
    return make_error(Errc::Config, what + " " + path + ": " + std::strerror(errno));
  }
  return ok_result();
}

// Loads the certificate chain |cert| and its private |key| into |ctx|. Errors start with
// |cert_where| or |key_where| and name the files; a key of another certificate is said so.
Result<Unit> use_cert_and_key(SSL_CTX* ctx, const std::string& cert_where, const std::string& cert,
                              const std::string& key_where, const std::string& key) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    return make_error(Errc::Config,
                      cert_where + ": cannot load certificate " + cert + ": " + openssl_error());
  }
  bool mismatch = false;
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL refuses a key of the certificate's type that is not its key here already.
    if (ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
      return make_error(Errc::Config,
                        key_where + ": cannot load key " + key + ": " + openssl_error());
    }
    mismatch = true;
  } else {
    mismatch = SSL_CTX_check_private_key(ctx) != 1;
  }
  if (mismatch) {
    ERR_clear_error();
    return make_error(Errc::Config,
                      key_where + ": key " + key + " does not match certificate " + cert);
  }
  return ok_result();
}
}  // namespace

bool tls_name_matches(std::string_view pattern, std::string_view host) {
  if (!host.empty() && host.back() == '.') {
    host.remove_suffix(1);  // "example.com." is "example.com"
  }
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    size_t dot = host.find('.');
    if (dot == std::string_view::npos || dot == 0) {
      return false;
    }
    return iequals(pattern.substr(1), host.substr(dot));  // ".rest" == ".rest"
  }
  return iequals(pattern, host);
}

TlsListenerContexts::~TlsListenerContexts() {
  for (Cert& c : certs_) {
    SSL_CTX_free(c.ctx);
  }
}

Result<std::unique_ptr<TlsListenerContexts>>
TlsListenerContexts::build(const conf::Listener& listener, const std::string& base_dir) {
  std::unique_ptr<TlsListenerContexts> out(new TlsListenerContexts());
  out->listener_ = &listener;
  const conf::ListenerTls& tls = listener.tls;
  ERR_clear_error();
  for (size_t i = 0; i < tls.certificates.size(); ++i) {
    const conf::TlsCertificate& c = tls.certificates[i];
    std::string where =
        "listener " + listener.name + ": tls.certificates[" + std::to_string(i) + "]";
    std::string cert_path = resolve(c.cert, base_dir);
    std::string key_path = resolve(c.key, base_dir);
    if (auto r = readable(where + ": certificate", cert_path); !r) {
      return r.error();
    }
    if (auto r = readable(where + ": key", key_path); !r) {
      return r.error();
    }
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
      return make_error(Errc::Internal, where + ": SSL_CTX_new: " + openssl_error());
    }
    out->certs_.push_back(Cert{ctx, {}});
    SSL_CTX_set_min_proto_version(ctx, tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(ctx, kCipherList) != 1) {
      return make_error(Errc::Internal, where + ": cipher list: " + openssl_error());
    }
    if (auto r = use_cert_and_key(ctx, where, cert_path, where, key_path); !r) {
      return r.error();
    }
    out->certs_.back().names = certificate_names(SSL_CTX_get0_certificate(ctx));
    SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1);
    // Stateless resumption only: no per-worker session cache to share or to grow.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_timeout(ctx, kSessionTimeoutS);
    if (tls.session_tickets) {
      SSL_CTX_set_num_tickets(ctx, 1);
      SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb);
    } else {
      SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
      SSL_CTX_set_num_tickets(ctx, 0);
    }
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, nullptr);
    SSL_CTX_set_read_ahead(ctx, 1);
  }
  // SNI is looked up on the context the SSL was created with: the default one.
  SSL_CTX_set_tlsext_servername_callback(out->certs_[0].ctx, servername_cb);
  SSL_CTX_set_tlsext_servername_arg(out->certs_[0].ctx, out.get());
  return out;
}

SSL* TlsListenerContexts::new_ssl() const {
  SSL* ssl = SSL_new(certs_[0].ctx);
  if (ssl != nullptr) {
    SSL_set_accept_state(ssl);
  }
  return ssl;
}

SSL_CTX* TlsListenerContexts::match(std::string_view host) const {
  for (const Cert& c : certs_) {
    for (const std::string& name : c.names) {
      if (tls_name_matches(name, host)) {
        return c.ctx;
      }
    }
  }
  return nullptr;
}

const TlsListenerContexts* TlsContexts::find(const conf::Listener* listener) const {
  for (const auto& l : listeners) {
    if (l->listener() == listener) {
      return l.get();
    }
  }
  return nullptr;
}

Result<std::unique_ptr<TlsStore>> TlsStore::create(const conf::Config& config) {
  bool any = false;
  for (const auto& l : config.listeners) {
    any = any || l.tls.enabled;
  }
  if (!any) {
    return std::unique_ptr<TlsStore>();
  }
  std::unique_ptr<TlsStore> store(new TlsStore(config));
  auto built = store->build();
  if (!built) {
    return built.error();
  }
  std::lock_guard<std::mutex> lock(store->mu_);
  store->current_ = std::move(*built);
  store->generation_.store(1, std::memory_order_release);
  return store;
}

Result<std::shared_ptr<const TlsContexts>> TlsStore::build() const {
  std::string base_dir;
  size_t slash = config_.file.rfind('/');
  if (slash != std::string::npos) {
    base_dir = config_.file.substr(0, slash);
  }
  auto contexts = std::make_shared<TlsContexts>();
  for (const auto& l : config_.listeners) {
    if (!l.tls.enabled) {
      continue;
    }
    auto built = TlsListenerContexts::build(l, base_dir);
    if (!built) {
      return built.error();
    }
    contexts->listeners.push_back(std::move(*built));
  }
  return std::shared_ptr<const TlsContexts>(std::move(contexts));
}

Result<Unit> TlsStore::reload() {
  auto built = build();
  if (!built) {
    return built.error();
  }
  std::shared_ptr<const TlsContexts> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = std::move(current_);
    current_ = std::move(*built);
    generation_.fetch_add(1, std::memory_order_release);
  }
  return ok_result();  // |old| is freed here unless a worker or a connection still pins it
}

std::shared_ptr<const TlsContexts> TlsStore::current(uint64_t* generation) const {
  std::lock_guard<std::mutex> lock(mu_);
  *generation = generation_.load(std::memory_order_relaxed);
  return current_;
}

// --- TLS to upstream members -------------------------------------------------------------

namespace {

// SSL ex_data index of an upstream SSL's session slot (SSL_SESSION**).
int session_slot_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// A server handed out a session (TLS 1.2: at the handshake; TLS 1.3: a ticket after it). Runs
// on the thread driving the SSL, which owns the slot. 1 = we keep the reference.
int upstream_new_session_cb(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<SSL_SESSION**>(SSL_get_ex_data(ssl, session_slot_index()));
  if (slot == nullptr || SSL_SESSION_is_resumable(session) != 1) {
    return 0;
  }
  if (*slot != nullptr) {
    SSL_SESSION_free(*slot);
  }
  *slot = session;
  return 1;
}

bool is_ip(const std::string& name) {
  in_addr v4;
  in6_addr v6;
  return inet_pton(AF_INET, name.c_str(), &v4) == 1 || inet_pton(AF_INET6, name.c_str(), &v6) == 1;
}

}  // namespace

UpstreamTls::~UpstreamTls() { SSL_CTX_free(ctx_); }

Result<std::unique_ptr<UpstreamTls>> UpstreamTls::build(const conf::Pool& pool,
                                                        const std::string& base_dir) {
  std::unique_ptr<UpstreamTls> out(new UpstreamTls());
  out->pool_ = &pool;
  const conf::PoolTls& tls = pool.tls;
  std::string where = "pool " + pool.name + ": tls";
  ERR_clear_error();
  (void)session_slot_index();  // allocated here, on the main thread, before any worker runs
  // The reason strings describe_tls_client_failure() prints, loaded once here and not on a
  // worker at the first failure.
  OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, nullptr);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    return make_error(Errc::Internal, where + ": SSL_CTX_new: " + openssl_error());
  }
  out->ctx_ = ctx;
  SSL_CTX_set_min_proto_version(ctx, tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  // Partial and moving writes: Stream::write_tls hands SSL_write evbuffer_pullup() memory,
  // which may move between a WANT_WRITE and the retry. Unlike the listeners, no
  // SSL_MODE_RELEASE_BUFFERS: idle upstream connections are few (max_idle_connections per
  // member per worker, about 35 KiB of record buffers each), and freeing and reallocating the
  // buffers on every exchange cost 11% more CPU per keep-alive request and 20% per new
  // connection (bench/RESULTS.md).
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_set_cipher_list(ctx, kCipherList) != 1) {
    return make_error(Errc::Internal, where + ": cipher list: " + openssl_error());
  }
  const bool h2 = pool.protocol == conf::PoolProtocol::Http2;
  if (SSL_CTX_set_alpn_protos(ctx, h2 ? kUpstreamAlpnH2 : kUpstreamAlpn,
                              h2 ? sizeof kUpstreamAlpnH2 : sizeof kUpstreamAlpn) != 0) {
    return make_error(Errc::Internal, where + ": ALPN: " + openssl_error());
  }
  if (tls.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (!tls.ca.empty()) {
      std::string ca = resolve(tls.ca, base_dir);
      if (auto r = readable(where + ".ca", ca); !r) {
        return r.error();
      }
      if (SSL_CTX_load_verify_file(ctx, ca.c_str()) != 1) {
        return make_error(Errc::Config, where + ".ca: cannot load CA certificates from " + ca +
                                            ": " + openssl_error());
      }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return make_error(Errc::Config,
                        where + ": cannot load the system CA store: " + openssl_error());
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    SY_LOG(Warn,
           "pool %s: tls.verify is false: member certificates are not checked (the traffic "
           "is encrypted but the members are not authenticated)",
           pool.name.c_str());
  }
  if (!tls.cert.empty()) {
    std::string cert = resolve(tls.cert, base_dir);
    std::string key = resolve(tls.key, base_dir);
    if (auto r = readable(where + ".cert", cert); !r) {
      return r.error();
    }
    if (auto r = readable(where + ".key", key); !r) {
      return r.error();
    }
    if (auto r = use_cert_and_key(ctx, where + ".cert", cert, where + ".key", key); !r) {
      return r.error();
    }
  }
  if (tls.session_reuse) {
    // No internal store: sessions live in the callers' slots (see the header).
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, upstream_new_session_cb);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
  SSL_CTX_set_read_ahead(ctx, 1);
  return out;
}

SSL* UpstreamTls::new_ssl(const std::string& name, SSL_SESSION** session_slot) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) {
    return nullptr;
  }
  SSL_set_connect_state(ssl);
  bool ip = is_ip(name);
  bool ok = ip || SSL_set_tlsext_host_name(ssl, name.c_str()) == 1;  // no SNI for an IP
  if (ok && pool_->tls.verify) {
    if (ip) {
      ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = SSL_set1_host(ssl, name.c_str()) == 1;
    }
  }
  if (ok && session_slot != nullptr && pool_->tls.session_reuse) {
    ok = SSL_set_ex_data(ssl, session_slot_index(), session_slot) == 1;
    if (ok && *session_slot != nullptr) {
      SSL_set_session(ssl, *session_slot);  // a failure only means a full handshake
    }
  }
  if (!ok) {
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  return ssl;
}

std::string describe_tls_client_failure(const SSL* ssl, unsigned long ssl_error, int sys_errno) {
  // With verify: false the result is only informative: it did not fail the handshake.
  long verify = ssl != nullptr && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0
                    ? SSL_get_verify_result(ssl)
                    : X509_V_OK;
  if (verify != X509_V_OK) {
    return std::string("upstream TLS verification failed: ") +
           X509_verify_cert_error_string(verify);
  }
  std::string out = "upstream TLS handshake failed: ";
  if (ssl_error != 0) {
    const char* reason = ERR_reason_error_string(ssl_error);
    if (reason != nullptr) {
      return out + reason;
    }
    char buf[256];
    ERR_error_string_n(ssl_error, buf, sizeof buf);
    return out + buf;
  }
  if (sys_errno != 0) {
    return out + std::strerror(sys_errno);
  }
  return out + "the member closed the connection";
}

void free_tls_session(SSL_SESSION** slot) {
  if (*slot != nullptr) {
    SSL_SESSION_free(*slot);
    *slot = nullptr;
  }
}

SSL* TlsView::new_ssl(const conf::Listener* listener, std::shared_ptr<const TlsContexts>* pin) {
  if (store_ == nullptr) {
    return nullptr;
  }
  if (pinned_ == nullptr || store_->generation() != generation_) {
    pinned_ = store_->current(&generation_);
  }
  const TlsListenerContexts* l = pinned_->find(listener);
  if (l == nullptr) {
    return nullptr;
  }
  *pin = pinned_;
  return l->new_ssl();
}

}  // namespace sy::proxy
