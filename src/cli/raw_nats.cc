// The NATS baseline for `evbus bench`: the same workload through cnats alone,
// laid out as evbus lays it out (one file- or memory-backed stream per
// partition of each of the workload's topics, subjects <topic>.<p>, the key's
// partition by DESIGN §5, a Nats-Msg-Id per message; durable pull consumers
// with explicit acks and MaxAckPending = subscriber.window), with an async
// publisher bounded by publisher.max_in_flight and one reader thread that
// fetches, decodes, checks and acks each message. The ratio evbus / raw is
// what the engine costs on NATS.

#ifdef EVBUS_WITH_NATS

#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "cli/workload.h"
#include "cli/workload_tally.h"
#include "core/thread.h"
#include "transport/nats/nats_common.h"
#include "transport/nats/nats_runtime.h"
#include "transport/transport.h"

namespace evbus::cli {
namespace {

namespace tn = transport::nats;

void OnPubAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr*, void* closure) {
  if (pa == nullptr) static_cast<std::atomic<int64_t>*>(closure)->fetch_add(1);
  natsMsg_Destroy(msg);
}

// What the raw run holds of cnats; destroyed in the order cnats needs.
struct RawClient {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;    // publishing, with the ack handler
  jsCtx* mgmt = nullptr;  // consumer management, fetches
  std::vector<natsSubscription*> subs;
  bool runtime = false;

  ~RawClient() {
    jsCtx_Destroy(mgmt);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    // After the connection: cnats 3.4's reader frees a subscription destroyed
    // while it hands it a message (nats.c #637; see NatsSession::Retire).
    for (natsSubscription* s : subs) natsSubscription_Destroy(s);
    if (runtime) tn::NatsRuntime::Release();  // waits for cnats's threads when last
  }
};

Status Connect(const WorkloadOptions& o, std::atomic<int64_t>& publish_errors, RawClient& c) {
  if (Status s = tn::NatsRuntime::Acquire(); !s.ok()) return s;
  c.runtime = true;
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  std::vector<const char*> servers;
  for (const std::string& u : o.config.nats.urls) servers.push_back(u.c_str());
  if (s == NATS_OK)
    s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK && !o.config.nats.user.empty())
    s = natsOptions_SetUserInfo(opts, o.config.nats.user.c_str(), o.config.nats.password.c_str());
  if (s == NATS_OK && !o.config.nats.token.empty())
    s = natsOptions_SetToken(opts, o.config.nats.token.c_str());
  // Written at once or by cnats's flusher, as evbus's connection is: the
  // baseline measures the client, not a different setting of it.
  if (s == NATS_OK) s = natsOptions_SetSendAsap(opts, o.config.nats.send_asap);
  if (s == NATS_OK) s = natsConnection_Connect(&c.nc, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) return tn::NatsError("raw cnats: connect", s);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = o.config.publisher.max_in_flight;
  jo.PublishAsync.StallWait = std::max<int64_t>(1, tn::Millis(o.config.publisher.timeout));
  jo.PublishAsync.AckHandler = OnPubAck;
  jo.PublishAsync.AckHandlerClosure = &publish_errors;
  if (s = natsConnection_JetStream(&c.js, c.nc, &jo); s != NATS_OK) {
    return tn::NatsError("raw cnats: JetStream context", s);
  }
  if (s = natsConnection_JetStream(&c.mgmt, c.nc, nullptr); s != NATS_OK) {
    return tn::NatsError("raw cnats: JetStream context", s);
  }
  return Status();
}

// A durable pull consumer per partition of `topic`, configured as evbus
// configures its own.
Status SubscribeTopic(const Config& config, const std::string& topic, RawClient& c) {
  for (int32_t p = 0; p < config.nats.partitions; ++p) {
    const std::string stream = tn::StreamName(config.nats, topic, p);
    const std::string durable = tn::DurableName(config.nats, config.subscriber.group, topic, p);
    const std::string subject = tn::Subject(config.nats, topic, p);
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable.c_str();
    cc.FilterSubject = subject.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.MaxAckPending = config.subscriber.window;
    cc.AckWait = tn::Nanos(config.nats.ack_wait);
    cc.DeliverPolicy = js_DeliverAll;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_AddConsumer(nullptr, c.mgmt, stream.c_str(), &cc, nullptr, &jerr);
    if (s != NATS_OK) return tn::NatsError("raw cnats: consumer " + durable, s, jerr);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Consumer = durable.c_str();
    natsSubscription* sub = nullptr;
    s = js_PullSubscribe(&sub, c.mgmt, subject.c_str(), durable.c_str(), nullptr, &so, &jerr);
    if (s != NATS_OK) return tn::NatsError("raw cnats: pull subscribe " + durable, s, jerr);
    c.subs.push_back(sub);
  }
  return Status();
}

// A durable pull consumer per partition of each of the workload's topics.
Status Subscribe(const WorkloadOptions& o, RawClient& c) {
  for (const std::string& topic : WorkloadTopics(o)) {
    if (Status s = SubscribeTopic(o.config, topic, c); !s.ok()) return s;
  }
  return Status();
}

struct RawPart {
  natsSubscription* sub = nullptr;
  int64_t backlog = 0;     // the last message's pending count; 0 = none or unknown
  int64_t may_arrive = 0;  // see tn::GuardedFetch
};

// Fetches from `p`: at once up to its backlog (wait_ms 0), or waiting up to
// `wait_ms` for one message; then decodes, tallies and acks each message.
// Returns the number handled. The batch sizes and waits are the evbus
// consumer's, which avoid a cnats 3.4 overrun and nats-server 2.9's late
// answer to an empty no_wait request (see src/transport/nats/nats_consumer.cc).
int FetchBatch(const WorkloadOptions& o, Tally& tally, RawPart& p, int64_t wait_ms, Envelope& e) {
  jsFetchRequest fr;
  jsFetchRequest_Init(&fr);
  fr.Batch =
      wait_ms == 0
          ? static_cast<int>(std::min<int64_t>(p.backlog, o.config.subscriber.max_poll_records))
          : 1;
  fr.NoWait = wait_ms == 0;
  fr.Expires = (wait_ms == 0 ? tn::kNoWaitAnswerMs : wait_ms) * 1'000'000;
  if (fr.Batch <= 0) return 0;
  natsMsgList list{nullptr, 0};
  const natsStatus fetched = tn::GuardedFetch(&list, p.sub, &fr, p.may_arrive,
                                              o.config.subscriber.window);  // its MaxAckPending
  if (fetched != NATS_OK) {
    natsMsgList_Destroy(&list);
    p.backlog = 0;
    return 0;
  }
  for (int i = 0; i < list.Count; ++i) {
    natsMsg* m = list.Msgs[i];
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
      p.backlog = static_cast<int64_t>(meta->NumPending);
      jsMsgMetaData_Destroy(meta);
    }
    const std::string_view payload(natsMsg_GetData(m),
                                   static_cast<size_t>(natsMsg_GetDataLength(m)));
    if (o.envelopes) {
      if (DecodeEnvelopeInto(payload, e).ok()) TallyEnvelope(tally, o, e);
    } else {
      Record r;
      r.payload.assign(payload);
      TallyRaw(tally, o, r);
    }
    natsStatus s = natsMsg_Ack(m, nullptr);
    (void)s;  // a lost ack only means a redelivery, which the tally would count
  }
  const int n = list.Count;
  natsMsgList_Destroy(&list);
  return n;
}

}  // namespace

Result<WorkloadResult> RunRawNats(const WorkloadOptions& o) {
  WorkloadResult result;
  Tally tally(o);
  {  // the streams as evbus would create them (nats.partitions, nats.storage)
    Result<std::unique_ptr<transport::Transport>> t = transport::CreateTransport(o.config, 0);
    if (!t.ok()) return t.status();
    for (const std::string& topic : WorkloadTopics(o)) {
      if (Status s = (*t)->EnsureTopic(topic); !s.ok()) return s;
    }
  }
  std::atomic<int64_t> publish_errors{0};
  auto client = std::make_unique<RawClient>();
  if (Status s = Connect(o, publish_errors, *client); !s.ok()) return s;
  if (Status s = Subscribe(o, *client); !s.ok()) return s;

  std::atomic<bool> stop{false};
  core::Thread reader = core::Thread::Start("evb-raw-read", "bench-baseline", 0, [&] {
    // Round robin over the partitions with a backlog; when a whole round
    // finds nothing, one fetch waits (bounded) so an idle run does not spin.
    Envelope e;
    std::vector<RawPart> parts(client->subs.size());
    for (size_t i = 0; i < parts.size(); ++i) parts[i].sub = client->subs[i];
    size_t rr = 0;
    while (!stop.load(std::memory_order_acquire)) {
      int got = 0;
      for (RawPart& p : parts) got += FetchBatch(o, tally, p, 0, e);
      if (got == 0) {  // wait as the evbus consumer does
        FetchBatch(o, tally, parts[rr++ % parts.size()], tn::kFetchSliceMs, e);
      }
    }
  });
  Clock::time_point start;
  const int32_t partitions = o.config.nats.partitions;
  const Status failed = PublishRawWorkload(o, tally, result, start, [&](int64_t i, Record& r) {
    const std::string subject =
        tn::Subject(o.config.nats, r.topic, transport::PartitionForKey(r.key, partitions));
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, r.payload.data(),
                                  static_cast<int>(r.payload.size()));
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, tn::kKeyHeader, r.key.c_str());
    // The same headers evbus sends (none for plain records): a fair baseline.
    for (const Header& h : r.headers) {
      if (s == NATS_OK) s = natsMsgHeader_Add(msg, h.key.c_str(), h.value.c_str());
    }
    // Warm-ups (i = -1) carry their topic, or the server would drop all but one.
    const std::string id = o.topic + "-" + (i < 0 ? "warmup-" + r.topic : std::to_string(i));
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id.c_str();  // de-duplication costs the server what evbus's event ids cost it
    if (s == NATS_OK) s = js_PublishMsgAsync(client->js, &msg, &po);
    if (s != NATS_OK) {
      natsMsg_Destroy(msg);  // still ours when not accepted
      publish_errors.fetch_add(1);
    }
  });
  const auto end = failed.ok() ? tally.WaitForAll(std::chrono::seconds(120)) : Clock::now();
  stop.store(true, std::memory_order_release);
  reader.Join();
  tally.Fill(result, start, end);
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = 10'000;
  (void)js_PublishAsyncComplete(client->js, &wait);
  const auto close_start = Clock::now();
  client.reset();  // subscriptions and connection, as a bus's close ends both
  result.close_ms = std::chrono::duration<double, std::milli>(Clock::now() - close_start).count();
  result.publish_errors = publish_errors.load();
  result.peak_rss_kb = PeakRssKb();
  if (!failed.ok()) return failed;
  return result;
}

}  // namespace evbus::cli

#endif  // EVBUS_WITH_NATS
