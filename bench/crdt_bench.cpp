// `switchboard bench crdt`. The workload is generated once, deterministically (fixed seed), by
// several Replicas editing a shared pool of phone records and syncing every few hundred writes,
// so delta contexts carry the superseded dots and occasional concurrent siblings that real
// deltas carry. Each figure is then timed `runs` times on the same workload next to its raw
// baseline, and the medians are reported.
#include "bench/crdt_bench.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "conflict/codec.h"
#include "conflict/replica.h"
#include "schemas/crdt.capnp.h"

namespace sb::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kRecords = 10'000;
constexpr int kReplicas = 4;
constexpr uint64_t kSyncEvery = 500;  // writes between two rounds of all-to-all delta exchange
constexpr uint64_t kStartMs = 1'700'000'000'000;
constexpr char kKind[] = "phone";

// One write as a plain (record id, field, value) triple: what the raw baselines handle.
struct Write {
  std::string id, field, value;
};

struct Workload {
  std::vector<Delta> deltas;  // one one-field register write each
  std::vector<Write> writes;  // the same writes, without CRDT metadata
};

// Keeps the measured loops observable so the optimizer cannot drop them.
volatile uint64_t g_sink = 0;

std::string Uuid(std::mt19937_64& rng) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) s.push_back('-');
    s.push_back(kHex[rng() % 16]);
  }
  return s;
}

std::string Digits(std::mt19937_64& rng, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + rng() % 10));
  return s;
}

// A write a partner would plausibly make to a phone record.
Write RandomWrite(std::mt19937_64& rng, const std::string& id) {
  static const std::vector<std::string> kTypes = {"voice", "voice", "voice", "cell",
                                                  "text",  "fax",   "video", "textphone"};
  static const std::vector<std::string> kDescriptions = {
      "24/7 anti-trafficking hotline, answered in English and Spanish",
      "Intake line for the emergency shelter; leave a message after hours",
      "Case managers, weekdays 9:00-17:00",
      "Legal clinic appointments (immigration and labor cases)",
      "Text line for survivors who cannot speak safely",
      "Interpreter on request: Tagalog, Vietnamese, Romanian",
      "After-hours duty officer",
      "Confidential; do not share with the public"};
  uint64_t pick = rng() % 100;
  if (pick < 35) return {id, "number", "+1" + std::to_string(2 + rng() % 8) + Digits(rng, 9)};
  if (pick < 65) return {id, "description", kDescriptions[rng() % kDescriptions.size()]};
  if (pick < 80) return {id, "type", kTypes[rng() % kTypes.size()]};
  if (pick < 90) return {id, "extension", Digits(rng, 1 + static_cast<int>(rng() % 4))};
  return {id, "service_id", Uuid(rng)};
}

// Generates `n` deltas. The writes are valid by construction, so an error here is a bug.
Result<Workload> Generate(uint64_t n) {
  std::mt19937_64 rng(20240601);
  std::vector<std::string> ids;
  for (size_t i = 0; i < kRecords; ++i) ids.push_back(Uuid(rng));
  std::vector<std::unique_ptr<Replica>> replicas;
  for (int r = 0; r < kReplicas; ++r) {
    replicas.push_back(std::make_unique<Replica>(r + 1, FieldSchema::Hsds()));
  }
  Workload w;
  w.deltas.reserve(n);
  w.writes.reserve(n);
  size_t synced = 0;  // deltas before this index have reached every replica
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t now = kStartMs + i;
    Replica& author = *replicas[rng() % kReplicas];
    Write write = RandomWrite(rng, ids[rng() % ids.size()]);
    Result<Delta> delta = author.Set(write.id, kKind, {{write.field, Value(write.value)}}, now);
    if (!delta.ok()) return delta.status().WithContext("generating the workload");
    w.deltas.push_back(std::move(delta).value());
    w.writes.push_back(std::move(write));
    if ((i + 1) % kSyncEvery != 0 && i + 1 != n) continue;
    for (auto& replica : replicas) {
      for (size_t k = synced; k < w.deltas.size(); ++k) {
        if (w.deltas[k].author == replica->id()) continue;
        RETURN_IF_ERROR(replica->Apply(w.deltas[k], now).WithContext("syncing the workload"));
      }
    }
    synced = w.deltas.size();
  }
  return w;
}

double PerSecond(size_t count, SteadyClock::duration elapsed) {
  return static_cast<double>(count) / std::chrono::duration<double>(elapsed).count();
}

double TimeCrdtJoin(const Workload& w) {
  Directory dir;
  auto start = SteadyClock::now();
  for (const Delta& d : w.deltas) dir.Join(d);
  auto elapsed = SteadyClock::now() - start;
  g_sink = g_sink + dir.size();
  return PerSecond(w.deltas.size(), elapsed);
}

using RawDirectory = std::map<std::string, std::map<std::string, std::string>>;

double TimeRawJoin(const Workload& w) {
  RawDirectory dir;
  auto start = SteadyClock::now();
  for (const Write& x : w.writes) dir[x.id][x.field] = x.value;
  auto elapsed = SteadyClock::now() - start;
  g_sink = g_sink + dir.size();
  return PerSecond(w.writes.size(), elapsed);
}

Result<double> TimeCrdtCodec(const Workload& w) {
  Directory dir;
  auto start = SteadyClock::now();
  for (const Delta& d : w.deltas) {
    Result<Delta> back = DecodeDelta(EncodeDelta(d));
    if (!back.ok()) return back.status().WithContext("decoding a delta just encoded");
    dir.Join(*back);
  }
  auto elapsed = SteadyClock::now() - start;
  g_sink = g_sink + dir.size();
  return PerSecond(w.deltas.size(), elapsed);
}

// The same loop with format version 1 (Cap'n Proto) on the wire: what the codec did before
// version 2, measured in the same run.
Result<double> TimeCrdtCodecV1(const Workload& w) {
  Directory dir;
  auto start = SteadyClock::now();
  for (const Delta& d : w.deltas) {
    Result<Delta> back = DecodeDelta(EncodeDeltaV1(d));
    if (!back.ok()) return back.status().WithContext("decoding a version 1 delta just encoded");
    dir.Join(*back);
  }
  auto elapsed = SteadyClock::now() - start;
  g_sink = g_sink + dir.size();
  return PerSecond(w.deltas.size(), elapsed);
}

// The same deltas, `batch` to a message: encode the batch, decode it, join each delta.
Result<double> TimeCrdtBatchCodec(const Workload& w, uint64_t batch) {
  Directory dir;
  auto start = SteadyClock::now();
  for (size_t i = 0; i < w.deltas.size(); i += batch) {
    size_t n = std::min<size_t>(batch, w.deltas.size() - i);
    Result<std::vector<Delta>> back =
        DecodeDeltaBatch(EncodeDeltaBatch(std::span<const Delta>(w.deltas).subspan(i, n)));
    if (!back.ok()) return back.status().WithContext("decoding a batch just encoded");
    for (const Delta& d : *back) dir.Join(d);
  }
  auto elapsed = SteadyClock::now() - start;
  g_sink = g_sink + dir.size();
  return PerSecond(w.deltas.size(), elapsed);
}

// The baseline message: the write's id, field and value in the same schema, with no kind,
// context, dot or stamp.
kj::Array<capnp::word> EncodeRaw(const Write& x) {
  capnp::MallocMessageBuilder msg;
  auto record = msg.initRoot<wire::Record>();
  record.setId(x.id);
  auto field = record.initFields(1)[0];
  field.setName(x.field);
  field.initRegister(1)[0].initValue().setText(x.value);
  return capnp::messageToFlatArray(msg);
}

std::string Str(capnp::Text::Reader t) {
  return std::string(t.cStr(), t.size());
}

double TimeRawCodec(const Workload& w) {
  RawDirectory dir;
  auto start = SteadyClock::now();
  for (const Write& x : w.writes) {
    kj::Array<capnp::word> words = EncodeRaw(x);
    capnp::FlatArrayMessageReader reader(words);
    auto record = reader.getRoot<wire::Record>();
    auto field = record.getFields()[0];
    dir[Str(record.getId())][Str(field.getName())] =
        Str(field.getRegister()[0].getValue().getText());
  }
  auto elapsed = SteadyClock::now() - start;
  g_sink = g_sink + dir.size();
  return PerSecond(w.writes.size(), elapsed);
}

struct Sizes {
  // Mean bytes per write: one delta per message (format version 2 and 1), `batch` to a
  // message, the raw Cap'n Proto baseline, and the id, field and value alone.
  double crdt = 0, crdt_v1 = 0, batched = 0, raw_capnp = 0, raw_payload = 0;
};

Sizes MeasureSizes(const Workload& w, uint64_t batch) {
  uint64_t crdt = 0, v1 = 0, batched = 0, capnp = 0, payload = 0;
  for (const Delta& d : w.deltas) {
    crdt += EncodeDelta(d).size();
    v1 += EncodeDeltaV1(d).size();
  }
  for (size_t i = 0; i < w.deltas.size(); i += batch) {
    size_t n = std::min<size_t>(batch, w.deltas.size() - i);
    batched += EncodeDeltaBatch(std::span<const Delta>(w.deltas).subspan(i, n)).size();
  }
  for (const Write& x : w.writes) {
    capnp += EncodeRaw(x).asBytes().size();
    payload += x.id.size() + x.field.size() + x.value.size();
  }
  double n = static_cast<double>(w.deltas.size());
  return {crdt / n, v1 / n, batched / n, capnp / n, payload / n};
}

// Yjs on the same workload, run by Node.js from bench/yjs (see crdt_workload.mjs there).
struct YjsFigures {
  bool ran = false;
  std::string why_not;  // when it did not run: what to do instead
  std::string version;
  double updates_per_s = 0, update_bytes = 0;
};

YjsFigures RunYjs(const CrdtBenchOptions& o) {
  YjsFigures y;
  std::string dir = SB_YJS_BENCH_DIR;
  std::string how = "cd " + dir + " && npm ci && node crdt_workload.mjs --deltas " +
                    std::to_string(o.deltas) + " --runs " + std::to_string(o.runs);
  if (std::system("command -v node >/dev/null 2>&1") != 0) {
    y.why_not = "node not found; to measure Yjs beside this: " + how;
    return y;
  }
  if (std::system(("test -d '" + dir + "/node_modules/yjs'").c_str()) != 0) {
    y.why_not = "bench/yjs has no node_modules; to measure Yjs beside this: " + how;
    return y;
  }
  std::string cmd = "cd '" + dir + "' && node crdt_workload.mjs --json --deltas " +
                    std::to_string(o.deltas) + " --runs " + std::to_string(o.runs);
  std::string text;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
    if (pclose(p) != 0) text.clear();
  }
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("apply_updates_per_s")) {
    y.why_not = "the Yjs script failed; run it by hand: " + how;
    return y;
  }
  y.ran = true;
  y.version = j.value("yjs_version", "?") + std::string(" on Node ") + j.value("node_version", "?");
  y.updates_per_s = j["apply_updates_per_s"].get<double>();
  y.update_bytes = j["mean_update_bytes"].get<double>();
  return y;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// 1234567 -> "1,234,567".
std::string Grouped(double x) {
  std::string digits = std::to_string(static_cast<uint64_t>(x + 0.5));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string Fixed(double x, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  return buf;
}

std::string Ratio(double x) {
  return Fixed(x, x < 0.1 ? 3 : 2);
}

std::string Row(const std::string& figure, const std::string& ours, const std::string& raw,
                const std::string& ratio, const std::string& note) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-30s %13s %14s %7s", figure.c_str(), ours.c_str(), raw.c_str(),
                ratio.c_str());
  return std::string(buf) + (note.empty() ? "" : "   (" + note + ")") + "\n";
}

struct Figures {
  double crdt_join, raw_join, crdt_codec, raw_codec, crdt_batch, crdt_codec_v1;
  Sizes sizes;
  YjsFigures yjs;
};

void PrintTable(const CrdtBenchOptions& o, const Figures& f, std::ostream& out) {
  out << "switchboard bench crdt — " << Grouped(static_cast<double>(o.deltas))
      << " one-field deltas (" << Grouped(kRecords) << " phone records, " << kReplicas
      << " replicas), median of " << o.runs << (o.runs == 1 ? " run\n" : " runs\n");
  out << Row("figure", "switchboard", "raw baseline", "ratio", "");
  out << Row("joins/s (in memory)", Grouped(f.crdt_join), Grouped(f.raw_join),
             Ratio(f.crdt_join / f.raw_join), "raw: std::map LWW assignment");
  out << Row("encode+decode+join/s", Grouped(f.crdt_codec), Grouped(f.raw_codec),
             Ratio(f.crdt_codec / f.raw_codec), "raw: capnp of id/field/value, then std::map");
  out << Row(
      "one-field delta size (bytes)", Fixed(f.sizes.crdt, 1), Fixed(f.sizes.raw_capnp, 1),
      Ratio(f.sizes.crdt / f.sizes.raw_capnp),
      "raw: capnp of id/field/value; id+field+value alone: " + Fixed(f.sizes.raw_payload, 1) +
          "; format version 1: " + Fixed(f.sizes.crdt_v1, 1));
  out << Row("  the same, format version 1", Grouped(f.crdt_codec_v1), Grouped(f.raw_codec),
             Ratio(f.crdt_codec_v1 / f.raw_codec), "Cap'n Proto deltas, as before version 2");
  std::string n = std::to_string(o.batch);
  out << Row("batch of " + n + ": bytes/delta", Fixed(f.sizes.batched, 1),
             Fixed(f.sizes.raw_payload, 1), Ratio(f.sizes.batched / f.sizes.raw_payload),
             "raw: id+field+value alone");
  out << Row("batch of " + n + ": enc+dec+join/s", Grouped(f.crdt_batch), Grouped(f.raw_codec),
             Ratio(f.crdt_batch / f.raw_codec), "raw: capnp of id/field/value, then std::map");
  if (!f.yjs.ran) {
    out << "Yjs: not measured (" << f.yjs.why_not << ")\n";
    return;
  }
  out << Row("vs Yjs applyUpdate/s", Grouped(f.crdt_codec), Grouped(f.yjs.updates_per_s),
             Ratio(f.crdt_codec / f.yjs.updates_per_s),
             "Yjs " + f.yjs.version + ", same workload, Y.applyUpdate into a fresh doc");
  out << Row("vs Yjs update size (bytes)", Fixed(f.sizes.crdt, 1), Fixed(f.yjs.update_bytes, 1),
             Ratio(f.sizes.crdt / f.yjs.update_bytes), "Yjs: one update per edit");
}

void PrintJson(const CrdtBenchOptions& o, const Figures& f, std::ostream& out) {
  auto figure = [](double ours, double raw) {
    return nlohmann::ordered_json{{"switchboard", ours}, {"raw", raw}, {"ratio", ours / raw}};
  };
  nlohmann::ordered_json j;
  j["benchmark"] = "crdt";
  j["deltas"] = o.deltas;
  j["runs"] = o.runs;
  j["records"] = kRecords;
  j["replicas"] = kReplicas;
  j["joins_per_s"] = figure(f.crdt_join, f.raw_join);
  j["encode_decode_joins_per_s"] = figure(f.crdt_codec, f.raw_codec);
  j["delta_bytes"] = figure(f.sizes.crdt, f.sizes.raw_capnp);
  j["delta_bytes"]["raw_payload"] = f.sizes.raw_payload;
  j["delta_bytes"]["format_v1"] = f.sizes.crdt_v1;
  j["encode_decode_joins_per_s"]["format_v1"] = f.crdt_codec_v1;
  j["batch"] = {{"deltas_per_message", o.batch},
                {"bytes_per_delta", f.sizes.batched},
                {"encode_decode_joins_per_s", f.crdt_batch}};
  if (f.yjs.ran) {
    j["yjs"] = {{"version", f.yjs.version},
                {"apply_updates_per_s", f.yjs.updates_per_s},
                {"mean_update_bytes", f.yjs.update_bytes},
                {"ratio", f.crdt_codec / f.yjs.updates_per_s}};
  } else {
    j["yjs"] = {{"not_measured", f.yjs.why_not}};
  }
  out << j.dump() << "\n";
}

}  // namespace

int RunCrdtBench(const CrdtBenchOptions& options, std::ostream& out, std::ostream* progress) {
  if (options.deltas == 0 || options.runs < 1 || options.batch == 0) {
    std::cerr << "switchboard bench crdt: --deltas, --runs and --batch must be at least 1\n";
    return 2;
  }
  if (progress) {
    *progress << "generating " << Grouped(static_cast<double>(options.deltas)) << " deltas..."
              << std::endl;
  }
  Result<Workload> workload = Generate(options.deltas);
  if (!workload.ok()) {
    std::cerr << "switchboard bench crdt: " << workload.status().ToString() << "\n";
    return 1;
  }
  const Workload& w = *workload;
  std::vector<double> crdt_join, raw_join, crdt_codec, raw_codec, crdt_batch, crdt_codec_v1;
  for (int run = 1; run <= options.runs; ++run) {
    if (progress) *progress << "run " << run << "/" << options.runs << "..." << std::endl;
    crdt_join.push_back(TimeCrdtJoin(w));
    raw_join.push_back(TimeRawJoin(w));
    Result<double> codec = TimeCrdtCodec(w);
    if (!codec.ok()) {
      std::cerr << "switchboard bench crdt: " << codec.status().ToString() << "\n";
      return 1;
    }
    crdt_codec.push_back(*codec);
    raw_codec.push_back(TimeRawCodec(w));
    Result<double> batch = TimeCrdtBatchCodec(w, options.batch);
    if (!batch.ok()) {
      std::cerr << "switchboard bench crdt: " << batch.status().ToString() << "\n";
      return 1;
    }
    crdt_batch.push_back(*batch);
    Result<double> v1 = TimeCrdtCodecV1(w);
    if (!v1.ok()) {
      std::cerr << "switchboard bench crdt: " << v1.status().ToString() << "\n";
      return 1;
    }
    crdt_codec_v1.push_back(*v1);
  }
  Figures f{Median(crdt_join),
            Median(raw_join),
            Median(crdt_codec),
            Median(raw_codec),
            Median(crdt_batch),
            Median(crdt_codec_v1),
            MeasureSizes(w, options.batch),
            {}};
  if (options.yjs) {
    if (progress) *progress << "running Yjs on the same workload (bench/yjs)..." << std::endl;
    f.yjs = RunYjs(options);
  } else {
    f.yjs.why_not = "--no-yjs";
  }
  if (options.json) {
    PrintJson(options, f, out);
  } else {
    PrintTable(options, f, out);
  }
  return 0;
}

}  // namespace sb::bench
