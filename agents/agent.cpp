#include "agents/agent.h"

#include "base/clock.h"

namespace sb {

Agent::Agent(Clock* clock, Options options) : clock_(clock), options_(std::move(options)) {}

Result<std::unique_ptr<Agent>> Agent::Open(Store* store, Clock* clock, Options options) {
  std::unique_ptr<Agent> a(new Agent(clock, std::move(options)));
  LocalDirectory::Options lo;
  lo.replica = a->options_.replica;
  lo.max_skew_ms = a->options_.max_skew_ms;
  ASSIGN_OR_RETURN(a->directory_, LocalDirectory::Open(store, clock, lo));
  if (a->options_.quarantine) {
    a->quarantine_ = std::make_unique<Quarantine>(store);
    RETURN_IF_ERROR(a->quarantine_->Load());
  }
  if (a->options_.referrals && a->options_.identity && a->options_.broker) {
    a->referrals_ = std::make_unique<ReferralBook>(store, clock, *a->options_.identity,
                                                   a->options_.broker->sign_public);
    a->referrals_->set_quarantine(a->quarantine_.get());
    a->referrals_->set_pre_key_policy(a->options_.pre_keys);
    Status loaded = a->referrals_->Load();
    if (!loaded.ok()) return loaded.WithContext("cannot load the referrals");
  }
  return a;
}

Agent::~Agent() {
  StopApi();
  Disconnect();
}

Status Agent::Connect(const std::string& endpoint, SocketLimits limits) {
  if (!options_.identity || !options_.broker) {
    return Status::FailedPrecondition(
        "an agent syncs only with its keys and the broker's identity.pub");
  }
  Disconnect();
  SyncClient::Options so;
  so.endpoint = endpoint;
  so.broker = *options_.broker;
  so.limits = limits;
  so.session = options_.session;
  so.referrals = referrals_.get();
  so.quarantine = quarantine_.get();
  endpoint_ = endpoint;
  client_ = std::make_unique<SyncClient>(directory_.get(), clock_, *options_.identity, so);
  return client_->Start();
}

void Agent::Disconnect() {
  client_.reset();
}

Result<AgentSync*> Agent::OpenSession() {
  if (!options_.identity || !options_.broker) {
    return Status::FailedPrecondition(
        "an agent syncs only with its keys and the broker's identity.pub");
  }
  session_.reset();
  session_ = std::make_unique<AgentSync>(directory_.get(), clock_, *options_.identity,
                                         options_.broker->sign_public, options_.session);
  session_->set_referrals(referrals_.get());
  session_->set_quarantine(quarantine_.get());
  return session_.get();
}

Result<int> Agent::BindApi(ApiServer::Options options) {
  StopApi();
  options.referrals = referrals_.get();
  options.quarantine = quarantine_.get();
  if (options_.identity) options.org = options_.identity->pub.org;
  options.sync_status = [this] { return SyncStatusJson(); };
  api_ = std::make_unique<ApiServer>(directory_.get(), clock_, std::move(options));
  return api_->Bind();
}

void Agent::ServeApi() {
  if (api_) api_->Serve();
}

void Agent::StopApi() {
  if (api_) api_->Stop();
}

nlohmann::json Agent::SyncStatusJson() const {
  if (!client_) return nullptr;
  SyncStatus st = client_->status();
  return {{"broker", endpoint_},
          {"state", st.state},
          {"role", st.role},
          {"cursor", st.cursor},
          {"broker_head", st.broker_head},
          {"last_sync", st.last_sync_ms ? IsoTime(st.last_sync_ms) : ""},
          {"pushed", st.pushed},
          {"accepted", st.accepted},
          {"refused", st.refused},
          {"applied", st.applied},
          {"bytes_in", st.bytes_in},
          {"referral_queue", referrals_ ? referrals_->queue_depth() : 0},
          {"quarantined", st.quarantined},
          {"connects", st.connects},
          {"session_restarts", st.session_restarts},
          {"hello_repeats", st.hello_repeats},
          {"stalls", st.stalls},
          {"rewinds", st.rewinds},
          {"checkpoints", st.checkpoints},
          {"collected", st.collected},  // records dropped: the broker collected them
          {"last_error", st.last_error},
          // This computer's clock minus the broker's (null before the first Welcome), and
          // while it is too far ahead, why edits are refused and pushes held.
          {"clock_skew_ms", st.clock_skew_known ? nlohmann::json(st.clock_skew_ms) : nullptr},
          {"clock_ahead", st.clock_ahead},
          {"pushes_held", st.pushes_held}};
}

}  // namespace sb
