#include "transport/nats/nats_session.h"

#include <fstream>

#include "transport/nats/nats_common.h"

namespace evbus::transport::nats {

// Shared with cnats's callback thread; outlives the connection.
struct ConnEvents {
  std::mutex mu;
  std::condition_variable cv;
  ErrorSink sink;
  ConnectionSink connection_sink;
  bool up = true;        // as last told to connection_sink
  bool closing = false;  // we are closing it: not news for the sink
  bool closed = false;   // the closed callback ran (the connection's last)
  std::string urls;
  std::shared_ptr<core::ThreadClaims> threads;  // the connection's, in the census
  uint64_t bus_id = 0;

  // A disconnect starts cnats's reconnect thread, a reconnect a new reader
  // (and flusher, without nats.send_asap): attribute them (see
  // core::ThreadClaims::ClaimRenamed).
  void ClaimThreads() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (closing) return;  // Teardown releases the claims
    }
    std::lock_guard<std::mutex> attribution(core::ClaimWindowMutex());
    threads->ClaimRenamed(bus_id);
  }

  // To the error sink, and to the connection sink when the state changed.
  void Report(Status s, bool connected) {
    ErrorSink copy;
    ConnectionSink state;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (closing) return;
      copy = sink;
      if (up != connected) {
        up = connected;
        state = connection_sink;
      }
    }
    // Never under our lock.
    if (copy) copy(s);
    if (state) state(connected, connected ? Status() : s);
  }
};

namespace {

constexpr auto kClosedCallbackWait = std::chrono::seconds(2);
// Retired subscriptions are destroyed in batches of this many, one flush each.
constexpr size_t kRetiredBeforeFlush = 16;
// A flush that shows the reader has moved on; one unanswered leaves the batch
// for the next try or the connection's end.
constexpr int64_t kRetireFlushMs = 500;

std::string ConnectedUrl(natsConnection* nc) {
  char buf[256] = {0};
  if (natsConnection_GetConnectedUrl(nc, buf, sizeof(buf)) != NATS_OK) return "?";
  return buf;
}

void OnDisconnected(natsConnection*, void* closure) {
  auto* ev = static_cast<ConnEvents*>(closure);
  ev->ClaimThreads();
  ev->Report(Status(ErrorCode::kUnavailable,
                    "nats: disconnected from " + ev->urls +
                        "; reconnecting (nats.max_reconnects, nats.reconnect_wait)"),
             /*connected=*/false);
}

void OnReconnected(natsConnection* nc, void* closure) {
  auto* ev = static_cast<ConnEvents*>(closure);
  ev->ClaimThreads();
  // The sink takes errors only; this one says the outage is over.
  ev->Report(Status(ErrorCode::kUnavailable,
                    "nats: reconnected to " + ConnectedUrl(nc) + "; connection restored"),
             /*connected=*/true);
}

void OnClosed(natsConnection*, void* closure) {
  auto* ev = static_cast<ConnEvents*>(closure);
  ev->Report(Status(ErrorCode::kUnavailable,
                    "nats: connection to " + ev->urls +
                        " closed: reconnect attempts exhausted (nats.max_reconnects)"),
             /*connected=*/false);
  {
    std::lock_guard<std::mutex> lock(ev->mu);
    ev->closed = true;
  }
  ev->cv.notify_all();
}

void OnError(natsConnection*, natsSubscription*, natsStatus err, void* closure) {
  auto* ev = static_cast<ConnEvents*>(closure);
  bool up;
  {
    std::lock_guard<std::mutex> lock(ev->mu);
    up = ev->up;
  }
  ev->Report(Status(ErrorCode::kUnavailable,
                    std::string("nats: asynchronous error: ") + natsStatus_GetText(err)),
             up);
}

// A seed file holds the seed (S...); cnats also needs the public key (U...),
// which we expect on a line of the same file (as `nsc` prints both).
Result<std::string> NKeyPublicKey(const std::string& file) {
  std::ifstream in(file);
  if (!in) return NotFound("nats.nkey_seed_file: cannot read " + file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() == 56 && line[0] == 'U') return line;
  }
  return InvalidArgument("nats.nkey_seed_file: " + file +
                         " has no user public key line (56 characters starting with U) beside "
                         "the seed; cnats needs both");
}

}  // namespace

Result<natsOptions*> BuildOptions(const NatsConfig& c, ConnEvents* events) {
  natsOptions* o = nullptr;
  if (natsStatus s = natsOptions_Create(&o); s != NATS_OK) return NatsError("nats options", s);
  std::vector<const char*> servers;
  for (const std::string& u : c.urls) servers.push_back(u.c_str());
  natsStatus s = natsOptions_SetServers(o, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetName(o, c.name.c_str());
  if (s == NATS_OK && !c.user.empty())
    s = natsOptions_SetUserInfo(o, c.user.c_str(), c.password.c_str());
  if (s == NATS_OK && !c.token.empty()) s = natsOptions_SetToken(o, c.token.c_str());
  if (s == NATS_OK && !c.credentials_file.empty())
    s = natsOptions_SetUserCredentialsFromFiles(o, c.credentials_file.c_str(), nullptr);
  if (s == NATS_OK && !c.nkey_seed_file.empty()) {
    Result<std::string> pub = NKeyPublicKey(c.nkey_seed_file);
    if (!pub.ok()) {
      natsOptions_Destroy(o);
      return pub.status();
    }
    s = natsOptions_SetNKeyFromSeed(o, pub->c_str(), c.nkey_seed_file.c_str());
  }
  const bool tls = !c.tls_ca_file.empty() || !c.tls_cert_file.empty();
  if (s == NATS_OK && tls) s = natsOptions_SetSecure(o, true);
  if (s == NATS_OK && !c.tls_ca_file.empty())
    s = natsOptions_LoadCATrustedCertificates(o, c.tls_ca_file.c_str());
  if (s == NATS_OK && !c.tls_cert_file.empty())
    s = natsOptions_LoadCertificatesChain(o, c.tls_cert_file.c_str(), c.tls_key_file.c_str());
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, c.max_reconnects);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, Millis(c.reconnect_wait));
  if (s == NATS_OK) s = natsOptions_SetTimeout(o, Millis(c.connect_timeout));
  if (s == NATS_OK) s = natsOptions_SetSendAsap(o, c.send_asap);
  if (s == NATS_OK && events != nullptr) {
    s = natsOptions_SetDisconnectedCB(o, OnDisconnected, events);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(o, OnReconnected, events);
    if (s == NATS_OK) s = natsOptions_SetClosedCB(o, OnClosed, events);
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(o, OnError, events);
  }
  if (s != NATS_OK) {
    Status st = NatsError("nats options (nats.* settings)", s);
    natsOptions_Destroy(o);
    return Status(ErrorCode::kInvalidArgument, st.message());
  }
  return o;
}

NatsSession::NatsSession(const Config& config, uint64_t bus_id)
    : config_(config), bus_id_(bus_id) {}

NatsSession::~NatsSession() {
  std::unique_lock<std::mutex> lock(mu_);
  if (nc_ != nullptr) Teardown(lock);  // a pin leaked: close anyway
}

void NatsSession::SetErrorSink(ErrorSink sink) {
  std::lock_guard<std::mutex> lock(mu_);
  sink_ = std::move(sink);
}

void NatsSession::SetConnectionSink(ConnectionSink sink) {
  std::lock_guard<std::mutex> lock(mu_);
  connection_sink_ = std::move(sink);
}

void NatsSession::Pin() {
  std::lock_guard<std::mutex> lock(mu_);
  ++pins_;
}

void NatsSession::Unpin() {
  std::unique_lock<std::mutex> lock(mu_);
  if (--pins_ > 0 || nc_ == nullptr) return;
  Teardown(lock);
}

void NatsSession::Teardown(std::unique_lock<std::mutex>& lock) {
  natsConnection* nc = nc_;
  jsCtx* js = js_;
  std::shared_ptr<ConnEvents> events = std::move(events_);
  std::vector<std::shared_ptr<void>> keep = std::move(keep_);
  std::vector<natsSubscription*> retired = std::move(retired_);
  retired_.clear();
  std::shared_ptr<core::ThreadClaims> threads = std::exchange(threads_, NewCnatsClaims());
  nc_ = nullptr;
  js_ = nullptr;
  lock.unlock();
  {
    std::lock_guard<std::mutex> ev(events->mu);
    events->closing = true;
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  {
    std::unique_lock<std::mutex> ev(events->mu);
    events->cv.wait_for(ev, kClosedCallbackWait, [&] { return events->closed; });
  }
  // This connection's threads first: one may still be finishing a callback
  // (the publish-ack handler destroys the ack after ours returns), and
  // cnats's garbage collector, which frees what is destroyed, ends once told
  // to stop and empty: what reaches it later is never freed.
  DestroyAll(retired);  // the connection's reader is gone
  threads->ReleaseAll();
  NatsRuntime::Release();  // the last one in the process waits for all cnats threads
  keep.clear();            // no cnats thread of this connection is left to call into these
  lock.lock();
}

Status NatsSession::Connect() {
  std::lock_guard<std::mutex> connecting(connect_mu_);
  auto events = std::make_shared<ConnEvents>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (nc_ != nullptr) return Status();
    events->sink = sink_;
    events->connection_sink = connection_sink_;
    events->threads = threads_;
    events->bus_id = bus_id_;
  }
  for (const std::string& u : config_.nats.urls) {
    events->urls += (events->urls.empty() ? "" : ",") + u;
  }
  if (Status s = NatsRuntime::Acquire(); !s.ok()) return s;
  Result<natsOptions*> opts = BuildOptions(config_.nats, events.get());
  if (!opts.ok()) {
    NatsRuntime::Release();
    return opts.status();
  }
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  Status result;
  Attributed([&] {
    natsStatus s = natsConnection_Connect(&nc, *opts);
    if (s != NATS_OK) {
      result = NatsError("cannot connect to NATS at " + events->urls, s);
      result = Status(ErrorCode::kUnavailable, result.message());
      return;
    }
    s = natsConnection_JetStream(&js, nc, nullptr);
    // The first request starts cnats's reply subscription (a thread) and
    // proves JetStream is enabled.
    jsAccountInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (s == NATS_OK) s = js_GetAccountInfo(&info, js, nullptr, &jerr);
    jsAccountInfo_Destroy(info);
    if (s == NATS_TIMEOUT) {
      // A cluster electing its JetStream meta leader (a server was lost)
      // answers nothing for seconds: retriable, and not "no JetStream".
      result = Status(ErrorCode::kUnavailable,
                      "JetStream at " + events->urls +
                          " did not answer: its cluster has no meta leader yet (an election "
                          "after a server was lost), or JetStream is not enabled (-js)");
    } else if (s != NATS_OK) {
      result =
          NatsError("NATS at " + events->urls + " has no JetStream (start it with -js)", s, jerr);
      result = Status(ErrorCode::kUnavailable, result.message());
    }
  });
  natsOptions_Destroy(*opts);
  std::unique_lock<std::mutex> lock(mu_);
  nc_ = nc;
  js_ = js;
  events_ = events;
  if (!result.ok()) {
    if (nc_ != nullptr) {
      Teardown(lock);
    } else {
      lock.unlock();
      NatsRuntime::Release();
      threads_->ReleaseAll();
    }
  }
  return result;
}

natsConnection* NatsSession::connection() {
  std::lock_guard<std::mutex> lock(mu_);
  return nc_;
}

jsCtx* NatsSession::js() {
  std::lock_guard<std::mutex> lock(mu_);
  return js_;
}

bool NatsSession::connected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return nc_ != nullptr && natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
}

void NatsSession::Attributed(const std::function<void()>& fn) {
  std::lock_guard<std::mutex> attribution(core::ClaimWindowMutex());
  const std::set<int> before = core::ListTasks();
  fn();
  std::shared_ptr<core::ThreadClaims> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads = threads_;
  }
  threads->ClaimNew(before, bus_id_);
}

void NatsSession::KeepUntilClosed(std::shared_ptr<void> p) {
  std::lock_guard<std::mutex> lock(mu_);
  keep_.push_back(std::move(p));
}

void NatsSession::Retire(natsSubscription* sub) {
  if (sub == nullptr) return;
  // Fails harmlessly for one the server or cnats already ended.
  (void)natsSubscription_Unsubscribe(sub);
  std::vector<natsSubscription*> batch;
  natsConnection* nc = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    retired_.push_back(sub);
    if (retired_.size() < kRetiredBeforeFlush) return;
    batch = std::move(retired_);
    retired_.clear();
    nc = nc_;  // valid: the caller holds a pin
  }
  if (natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED &&
      natsConnection_FlushTimeout(nc, kRetireFlushMs) == NATS_OK) {
    DestroyAll(batch);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  retired_.insert(retired_.end(), batch.begin(), batch.end());
}

void NatsSession::DestroyAll(std::vector<natsSubscription*>& subs) {
  for (natsSubscription* sub : subs) natsSubscription_Destroy(sub);
  subs.clear();
}

}  // namespace evbus::transport::nats
